"""Analysis of the flows, above the engine: path walks, invariants' raw material, graph checks,
review pages and diagrams. The layers read bottom-up: `bot/flows` (data: schema, parse) <-
`bot/core/engine` (evaluates one path) <- `bot/analysis` (walks them all)."""
