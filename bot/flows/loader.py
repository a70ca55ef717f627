"""Load a flows folder into a validated `FlowBundle`, or report every problem as file:line.

The folder holds one flow per `*.yaml` file plus four special files: `manifest.yaml` (entry flow,
edition, labels), `rules.yaml`, `gateways.yaml` and `outcomes.yaml` (shared outcomes), and an
optional fifth, `conventions.yaml` (the run-wide rules: precedence, secondary outcomes,
implied answers).

A file with schema errors is repaired as far as it can be (unknown keys dropped, broken items
set aside) so that the graph checks still run: one run reports every problem, and a typo in
one place never hides a broken reference in another.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bot.flows.schema import (
    Conventions,
    Extra,
    Flow,
    Gateway,
    GatewaysCatalogue,
    Glossary,
    LawNote,
    Manifest,
    Outcome,
    OutcomesCatalogue,
    Question,
    Rule,
    RulesCatalogue,
)

SPECIAL_FILES = {"manifest.yaml", "rules.yaml", "gateways.yaml", "outcomes.yaml"}
OPTIONAL_FILES = {"conventions.yaml", "glossary.yaml"}


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a flow file, printed as `file:line: node_id: message`, or
    `file:line:column: message` for a YAML syntax error (no node can be named there)."""

    file: str
    line: int
    node: str
    message: str
    column: int = 0

    def __str__(self) -> str:
        if self.column:
            return f"{self.file}:{self.line}:{self.column}: {self.message}"
        return f"{self.file}:{self.line}: {self.node}: {self.message}"


class FlowError(Exception):
    """The flows cannot be used; `problems` says exactly where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class _Loader(yaml.SafeLoader):
    """Safe YAML without the YAML 1.1 surprises: `yes`/`no`/`on`/`off` stay text, and a key
    written twice in one mapping is an error instead of silently keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (first on line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


# Plain scalars stay text (answer ids such as 13_15 or 16_17 would otherwise become numbers);
# only true/false and null keep their meaning.
_TEXT_ONLY = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
              "tag:yaml.org,2002:timestamp"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _TEXT_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", __import__("re").compile(r"^(?:true|false)$"), list("tf")
)


@dataclass
class YamlDoc:
    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: tuple[Any, ...]) -> int:
        """The line of the deepest YAML node that `loc` (a pydantic error path) reaches."""
        node = self.root
        if node is None:
            return 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                match = next((v for k, v in node.value if k.value == part), None)
                if match is None:
                    continue  # a pydantic union tag such as 'question', not a YAML key
                node = match
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
        return node.start_mark.line + 1

    def line_of_ids(self, *steps: tuple[str, str | int | None]) -> int:
        """The line of an item found by ids, e.g. (("nodes", "harm_level"), ("choices", "yes"),
        ("next", None)): a list key and the `id` (or index) to look for in it, or a plain key."""
        node, data = self.root, self.data
        line = node.start_mark.line + 1 if node is not None else 1
        for key, item_id in steps:
            if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
                break
            pair = next(((k, v) for k, v in node.value if k.value == key), None)
            if pair is None or key not in data:
                break
            key_node, node = pair
            data = data[key]
            line = key_node.start_mark.line + 1
            if item_id is None:
                continue
            if not isinstance(node, yaml.SequenceNode) or not isinstance(data, list):
                break
            index = item_id if isinstance(item_id, int) else next(
                (i for i, d in enumerate(data) if isinstance(d, dict) and str(d.get("id")) == item_id),
                None)
            if index is None or index >= len(node.value):
                break
            node, data = node.value[index], data[index]
            line = node.start_mark.line + 1
        return line

    def id_at(self, loc: tuple[Any, ...]) -> str | None:
        """The `id` of the outermost list item (node, outcome, rule...) `loc` points into."""
        data, found = self.data, None
        for part in loc:
            if isinstance(data, dict) and part in data:
                data = data[part]
            elif isinstance(data, list) and isinstance(part, int) and part < len(data):
                data = data[part]
            else:
                continue
            if isinstance(data, dict) and isinstance(data.get("id"), str):
                return data["id"]
        return found


def read_yaml(path: Path) -> YamlDoc:
    text = path.read_text(encoding="utf-8")
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return YamlDoc(path, data, root)


@dataclass
class FlowBundle:
    """Everything the engine needs, validated. Outcomes may be flow-local or shared."""

    directory: Path
    manifest: Manifest
    rules_catalogue: RulesCatalogue
    gateways: dict[str, Gateway]
    flows: dict[str, Flow]
    shared: OutcomesCatalogue
    version_hash: str
    gateway_ids: list[str] = field(default_factory=list)
    locations: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    conventions: Conventions = field(default_factory=Conventions)
    glossary: Glossary = field(default_factory=Glossary)  # terms of art, shared by every screen
    docs: dict[str, YamlDoc] = field(default_factory=dict, repr=False)
    flow_files: dict[str, str] = field(default_factory=dict)
    # What schema repair set aside, so graph checks do not report its consequences as noise.
    broken_ids: set[str] = field(default_factory=set)
    repaired_nodes: set[tuple[str, str]] = field(default_factory=set)
    law_notes: dict[str, LawNote] = field(default_factory=dict)
    _index: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def rules(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules_catalogue.rules}

    @property
    def entry(self) -> str:
        return self.manifest.entry

    def shared_outcome(self, node_id: str) -> Outcome | None:
        return self._indexes()[1].get(node_id)

    def node(self, flow_id: str, node_id: str) -> Question | Outcome | None:
        local, shared = self._indexes()
        found = local.get((flow_id, node_id))
        return found if found is not None else shared.get(node_id)

    def all_nodes(self) -> list[tuple[str, str]]:
        """(flow id, node id) of every node; shared outcomes have the flow id ""."""
        nodes = [(f.id, n.id) for f in self.flows.values() for n in f.nodes]
        return nodes + [("", o.id) for o in self.shared.outcomes]

    def _indexes(self) -> tuple[dict[tuple[str, str], Question | Outcome], dict[str, Outcome]]:
        """Node lookups by id (the first of duplicates, which the checker reports)."""
        if self._index is None:
            local: dict[tuple[str, str], Question | Outcome] = {}
            for flow in self.flows.values():
                for node in flow.nodes:
                    local.setdefault((flow.id, node.id), node)
            shared: dict[str, Outcome] = {}
            for outcome in self.shared.outcomes:
                shared.setdefault(outcome.id, outcome)
            self._index = (local, shared)
        return self._index

    def extras_for(self, outcome: Outcome) -> list[Extra]:
        extras = list(self.shared.always)
        for name in outcome.include:
            extras.extend(self.shared.extra_sets.get(name, []))
        return extras + list(outcome.extras)

    def where(self, flow_id: str, node_id: str) -> tuple[str, int]:
        return self.locations.get((flow_id, node_id)) or self.locations.get(
            ("", node_id), (str(self.directory), 1)
        )

    def where_in(
        self, flow_id: str, node_id: str, *steps: tuple[str, str | int | None]
    ) -> tuple[str, int]:
        """File and line of something inside a node: a choice, a branch, a key."""
        file, line = self.where(flow_id, node_id)
        name = self.flow_files.get(flow_id) if flow_id else "outcomes.yaml"
        doc = self.docs.get(name or "")
        if doc is None:
            return file, line
        top = ("nodes" if flow_id else "outcomes", node_id)
        found = doc.line_of_ids(top, *steps)
        return str(doc.path), found if found >= line else line


def _schema_problems(doc: YamlDoc, exc: ValidationError, label: str) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        node = doc.id_at(loc) or label
        first_index = next((i for i, p in enumerate(loc) if isinstance(p, int)), None)
        inner = loc[first_index + 1:] if first_index is not None and node != label else loc
        parts = [f"#{p + 1}" if isinstance(p, int) else str(p)
                 for p in inner if p not in ("question", "outcome")]
        where = " ".join(parts) or "(file)"
        key = next((p for p in reversed(parts) if not p.startswith("#")), "?")
        context = f" (in {' '.join(parts[:-1])})" if parts[:-1] else ""
        if error["type"] == "extra_forbidden":
            message = f"unknown key `{key}`" + context
        elif error["type"] == "missing":
            message = f"missing `{key}`" + context
        else:
            message = f"{where}: {error['msg']}"
        problems.append(Problem(str(doc.path), doc.line_of(loc), node, message))
    return problems


@dataclass
class _Repair:
    """What repairing one file set aside: ids of removed items, ids of items with dropped keys."""

    removed: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)


def _walk(data: Any, loc: tuple[Any, ...]) -> list[tuple[Any, Any]]:
    """(container, key) pairs along a pydantic error path, skipping union tags."""
    trail, here = [], data
    for part in loc:
        if isinstance(here, dict) and part in here:
            trail.append((here, part))
            here = here[part]
        elif isinstance(here, list) and isinstance(part, int) and part < len(here):
            trail.append((here, part))
            here = here[part]
    return trail


def _repair_once(data: Any, errors: list[dict[str, Any]], repair: _Repair) -> bool:
    """Fix the first error: drop an unknown key, or set aside the innermost list item at
    fault. False when nothing can be repaired."""
    for error in errors:
        trail = _walk(data, tuple(error["loc"]))
        items = [(c, k) for c, k in trail if isinstance(c, list)]
        owners = {str(c[k]["id"]) for c, k in items if isinstance(c[k], dict) and "id" in c[k]}
        if error["type"] == "extra_forbidden" and trail and isinstance(trail[-1][0], dict):
            container, key = trail[-1]
            del container[key]
            repair.touched |= owners
            return True
        if items:
            container, index = items[-1]
            item = container[index]
            if isinstance(item, dict) and "id" in item:
                repair.removed.add(str(item["id"]))
            repair.touched |= owners
            del container[index]
            return True
    return False


def _validate(
    doc: YamlDoc, model: type[BaseModel], label: str, repair: _Repair | None = None
) -> tuple[Any, list[Problem]]:
    if not isinstance(doc.data, dict):
        return None, [Problem(str(doc.path), 1, label, "file must hold a YAML mapping")]
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        problems = _schema_problems(doc, exc, label)
        if repair is None:
            return None, problems
        data = copy.deepcopy(doc.data)
        errors = exc.errors()
        for _ in range(200):
            if not _repair_once(data, errors, repair):
                return None, problems
            try:
                return model.model_validate(data), problems
            except ValidationError as again:
                errors = again.errors()
        return None, problems


def _hash(models: list[BaseModel]) -> str:
    payload = json.dumps([m.model_dump(mode="json") for m in models], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _syntax_problem(path: Path, exc: yaml.YAMLError) -> Problem:
    """One line for a YAML syntax error: where it was found, and what YAML expected there."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    where = f" ({context} at line {exc.context_mark.line + 1})" if (
        context and getattr(exc, "context_mark", None) and exc.context_mark.line + 1 != line) else ""
    return Problem(str(path), line, "-", f"not valid YAML: {reason}{where}", column=column)


def parse_folder(directory: Path) -> tuple[FlowBundle | None, list[Problem]]:
    """Parse and schema-check every file; graph checks happen in `checks.check_bundle`."""
    directory = Path(directory)
    if not directory.is_dir():
        return None, [Problem(str(directory), 1, "-", "flows folder not found")]
    docs: dict[str, YamlDoc] = {}
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.y*ml")):
        try:
            docs[path.name] = read_yaml(path)
        except yaml.YAMLError as exc:
            problems.append(_syntax_problem(path, exc))
    if problems:
        # A file that is not YAML leaves holes every other check would report (its flow, its
        # nodes, its rules "unknown" everywhere): the syntax error alone is the one thing to fix.
        return None, problems
    for name in sorted(SPECIAL_FILES - set(docs)):
        if not any(p.file.endswith(name) for p in problems):
            problems.append(Problem(str(directory / name), 1, "-", "required file is missing"))

    repairs: dict[str, _Repair] = {}

    def special(name: str, model: type[BaseModel]) -> Any:
        if name not in docs:
            return None
        repairs[name] = _Repair()
        value, found = _validate(docs[name], model, name.removesuffix(".yaml"), repairs[name])
        problems.extend(found)
        return value

    manifest = special("manifest.yaml", Manifest)
    rules = special("rules.yaml", RulesCatalogue)
    gateways = special("gateways.yaml", GatewaysCatalogue)
    shared = special("outcomes.yaml", OutcomesCatalogue)
    conventions = special("conventions.yaml", Conventions) if "conventions.yaml" in docs else None
    glossary = special("glossary.yaml", Glossary) if "glossary.yaml" in docs else None

    flows: dict[str, Flow] = {}
    flow_files: dict[str, str] = {}
    locations: dict[tuple[str, str], tuple[str, int]] = {}
    for name, doc in docs.items():
        if name in SPECIAL_FILES | OPTIONAL_FILES:
            continue
        repairs[name] = _Repair()
        flow, found = _validate(doc, Flow, Path(name).stem, repairs[name])
        problems.extend(found)
        if flow is None:
            continue
        if flow.id in flows:
            first = locations[(flow.id, "")][0]
            problems.append(
                Problem(str(doc.path), doc.line_of(("id",)), flow.id,
                        f"duplicate flow id (also in {first})")
            )
            continue
        flows[flow.id] = flow
        flow_files[flow.id] = name
        locations[(flow.id, "")] = (str(doc.path), 1)
        for node in flow.nodes:
            line = doc.line_of_ids(("nodes", node.id), ("id", None))
            locations.setdefault((flow.id, node.id), (str(doc.path), line))
    if shared is not None:
        doc = docs["outcomes.yaml"]
        for outcome in shared.outcomes:
            line = doc.line_of_ids(("outcomes", outcome.id), ("id", None))
            locations.setdefault(("", outcome.id), (str(doc.path), line))
        locations[("", "")] = (str(doc.path), 1)
    for name, model in (("rules.yaml", rules), ("gateways.yaml", gateways)):
        if model is not None:
            doc = docs[name]
            key = "rules" if name == "rules.yaml" else "gateways"
            for item in getattr(model, key):
                locations.setdefault((name, item.id), (str(doc.path), doc.line_of_ids((key, item.id))))
            if name == "rules.yaml":
                for item in model.checklist:
                    locations.setdefault(
                        (name, item.id), (str(doc.path), doc.line_of_ids(("checklist", item.id)))
                    )
    if manifest is None or rules is None or gateways is None or shared is None:
        return None, problems
    if conventions is None and "conventions.yaml" in docs:
        return None, problems
    conventions = conventions or Conventions()
    ordered = [manifest, rules, gateways, shared, conventions, *(flows[k] for k in sorted(flows))]
    broken = {i for r in repairs.values() for i in r.removed}
    repaired = {(fid, node) for fid, name in flow_files.items() for node in repairs[name].touched}
    repaired |= {("", node) for node in repairs.get("outcomes.yaml", _Repair()).touched}
    bundle = FlowBundle(
        directory=directory,
        manifest=manifest,
        rules_catalogue=rules,
        gateways={g.id: g for g in gateways.gateways},
        flows=flows,
        shared=shared,
        version_hash=_hash(ordered),
        gateway_ids=[g.id for g in gateways.gateways],
        law_notes={n.id: n for n in gateways.notes},
        locations=locations,
        conventions=conventions,
        glossary=glossary or Glossary(),
        docs=docs,
        flow_files=flow_files,
        broken_ids=broken,
        repaired_nodes=repaired,
    )
    return bundle, problems

