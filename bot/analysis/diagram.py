"""Pictures of a flow for reviewers: Mermaid (renders on GitHub) or Graphviz dot."""

from __future__ import annotations

import re

from bot.flows.conditions import AllOf, AnyOf, Atom, Cond
from bot.flows.loader import FlowBundle
from bot.flows.schema import Outcome, Question, Target


def _safe(text: str, limit: int = 60) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace('"', "'").replace("[", "(").replace("]", ")")


def _edges(flow_id: str, question: Question) -> list[tuple[str, Target]]:
    edges: list[tuple[str, Target]] = []
    if question.multi:
        for branch in question.branches:
            edges.append((f"if {_cond(branch.when)}", branch))
        edges.append(("otherwise" if question.branches else "any", question))
        return edges
    for choice in question.choices:
        for branch in choice.branches:
            edges.append((f"{choice.id} + {_cond(branch.when)}", branch))
        edges.append((choice.id, choice))
    return edges


def _cond(when: Cond, nested: bool = False) -> str:
    """A condition in a reviewer's shorthand: `k=a/b`, `k≠a`, `k answered`, `&`, `or`."""
    if isinstance(when, Atom):
        if when.answered is not None:
            return f"{when.question} {'answered' if when.answered else 'not answered'}"
        return f"{when.question}{'≠' if when.negate else '='}{'/'.join(sorted(when.values))}"
    if isinstance(when, AllOf):
        return " & ".join(_cond(part, True) for part in when.parts)
    assert isinstance(when, AnyOf)
    text = " or ".join(_cond(part, True) for part in when.parts)
    return f"({text})" if nested else text


def _target_id(flow_id: str, target: Target) -> str:
    if target.goto_flow:
        return f"flow_{target.goto_flow}_{target.at or 'start'}"
    return f"{flow_id}_{target.next}"


def _outcomes_used(bundle: FlowBundle, flow_id: str) -> list[Outcome]:
    flow = bundle.flows[flow_id]
    seen: dict[str, Outcome] = {}
    for node in flow.nodes:
        if isinstance(node, Outcome):
            seen[node.id] = node
        else:
            for _, target in _edges(flow_id, node):
                outcome = bundle.node(flow_id, target.next) if target.next else None
                if isinstance(outcome, Outcome):
                    seen[outcome.id] = outcome
    return list(seen.values())


def mermaid(bundle: FlowBundle, flow_id: str) -> str:
    flow = bundle.flows[flow_id]
    lines = ["flowchart TD"]
    handovers: dict[str, str] = {}
    for node in flow.nodes:
        if isinstance(node, Question):
            lines.append(f'  {flow_id}_{node.id}["{node.key}: {_safe(node.text)}"]')
    for outcome in _outcomes_used(bundle, flow_id):
        label = f"{outcome.id}: {outcome.verdict.value}"
        lines.append(f'  {flow_id}_{outcome.id}(["{_safe(label)}"])')
    for node in flow.nodes:
        if not isinstance(node, Question):
            continue
        for label, target in _edges(flow_id, node):
            dest = _target_id(flow_id, target)
            if target.goto_flow:
                handovers[dest] = f"→ flow {target.goto_flow}" + (
                    f" at {target.at}" if target.at else ""
                )
            lines.append(f'  {flow_id}_{node.id} -->|"{_safe(label, 50)}"| {dest}')
    for dest, label in handovers.items():
        lines.append(f'  {dest}[["{label}"]]')
    return "\n".join(lines) + "\n"


def dot(bundle: FlowBundle, flow_id: str) -> str:
    flow = bundle.flows[flow_id]
    lines = [f'digraph "{flow_id}" {{', "  rankdir=TB;", '  node [fontname="Helvetica"];']
    for node in flow.nodes:
        if isinstance(node, Question):
            lines.append(f'  "{flow_id}_{node.id}" [shape=box, label="{node.key}\\n'
                         f'{_safe(node.text, 40)}"];')
    for outcome in _outcomes_used(bundle, flow_id):
        lines.append(f'  "{flow_id}_{outcome.id}" [shape=ellipse, style=bold, '
                     f'label="{outcome.id}\\n{outcome.verdict.value}"];')
    for node in flow.nodes:
        if not isinstance(node, Question):
            continue
        for label, target in _edges(flow_id, node):
            dest = _target_id(flow_id, target)
            if target.goto_flow:
                lines.append(f'  "{dest}" [shape=cds, label="flow {target.goto_flow}"];')
            lines.append(f'  "{flow_id}_{node.id}" -> "{dest}" [label="{_safe(label, 40)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
