"""Load a flows folder into a validated `FlowBundle`, or report every problem as file:line.

The folder holds one flow per `*.yaml` file plus four special files: `manifest.yaml` (entry flow,
edition, labels), `rules.yaml`, `gateways.yaml` and `outcomes.yaml` (shared outcomes).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bot.flows.schema import (
    Extra,
    Flow,
    Gateway,
    GatewaysCatalogue,
    Manifest,
    Outcome,
    OutcomesCatalogue,
    Question,
    Rule,
    RulesCatalogue,
)

SPECIAL_FILES = {"manifest.yaml", "rules.yaml", "gateways.yaml", "outcomes.yaml"}


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a flow file, printed as `file:line: node_id: message`."""

    file: str
    line: int
    node: str
    message: str

    def __str__(self) -> str:
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

    @property
    def rules(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules_catalogue.rules}

    @property
    def entry(self) -> str:
        return self.manifest.entry

    def shared_outcome(self, node_id: str) -> Outcome | None:
        return next((o for o in self.shared.outcomes if o.id == node_id), None)

    def node(self, flow_id: str, node_id: str) -> Question | Outcome | None:
        flow = self.flows.get(flow_id)
        if flow is not None:
            local = next((n for n in flow.nodes if n.id == node_id), None)
            if local is not None:
                return local
        return self.shared_outcome(node_id)

    def extras_for(self, outcome: Outcome) -> list[Extra]:
        extras = list(self.shared.always)
        for name in outcome.include:
            extras.extend(self.shared.extra_sets.get(name, []))
        return extras + list(outcome.extras)

    def where(self, flow_id: str, node_id: str) -> tuple[str, int]:
        return self.locations.get((flow_id, node_id)) or self.locations.get(
            ("", node_id), (str(self.directory), 1)
        )


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


def _validate(doc: YamlDoc, model: type[BaseModel], label: str) -> tuple[Any, list[Problem]]:
    if not isinstance(doc.data, dict):
        return None, [Problem(str(doc.path), 1, label, "file must hold a YAML mapping")]
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        return None, _schema_problems(doc, exc, label)


def _hash(models: list[BaseModel]) -> str:
    payload = json.dumps([m.model_dump(mode="json") for m in models], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


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
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = mark.line + 1 if mark else 1
            reason = getattr(exc, "problem", None) or str(exc)
            problems.append(Problem(str(path), line, "-", f"not valid YAML: {reason}"))
    for name in sorted(SPECIAL_FILES - set(docs)):
        if not any(p.file.endswith(name) for p in problems):
            problems.append(Problem(str(directory / name), 1, "-", "required file is missing"))

    def special(name: str, model: type[BaseModel]) -> Any:
        if name not in docs:
            return None
        value, found = _validate(docs[name], model, name.removesuffix(".yaml"))
        problems.extend(found)
        return value

    manifest = special("manifest.yaml", Manifest)
    rules = special("rules.yaml", RulesCatalogue)
    gateways = special("gateways.yaml", GatewaysCatalogue)
    shared = special("outcomes.yaml", OutcomesCatalogue)

    flows: dict[str, Flow] = {}
    locations: dict[tuple[str, str], tuple[str, int]] = {}
    for name, doc in docs.items():
        if name in SPECIAL_FILES:
            continue
        flow, found = _validate(doc, Flow, Path(name).stem)
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
        locations[(flow.id, "")] = (str(doc.path), 1)
        for index, node in enumerate(flow.nodes):
            line = doc.line_of(("nodes", index, "id"))
            locations.setdefault((flow.id, node.id), (str(doc.path), line))
    if shared is not None:
        doc = docs["outcomes.yaml"]
        for index, outcome in enumerate(shared.outcomes):
            line = doc.line_of(("outcomes", index, "id"))
            locations.setdefault(("", outcome.id), (str(doc.path), line))
        locations[("", "")] = (str(doc.path), 1)
    for name, model in (("rules.yaml", rules), ("gateways.yaml", gateways)):
        if model is not None:
            doc = docs[name]
            key = "rules" if name == "rules.yaml" else "gateways"
            for index, item in enumerate(getattr(model, key)):
                locations.setdefault((name, item.id), (str(doc.path), doc.line_of((key, index))))
            if name == "rules.yaml":
                for index, item in enumerate(model.checklist):
                    locations.setdefault(
                        (name, item.id), (str(doc.path), doc.line_of(("checklist", index)))
                    )
    if manifest is None or rules is None or gateways is None or shared is None:
        return None, problems
    ordered = [manifest, rules, gateways, shared, *(flows[k] for k in sorted(flows))]
    bundle = FlowBundle(
        directory=directory,
        manifest=manifest,
        rules_catalogue=rules,
        gateways={g.id: g for g in gateways.gateways},
        flows=flows,
        shared=shared,
        version_hash=_hash(ordered),
        gateway_ids=[g.id for g in gateways.gateways],
        locations=locations,
    )
    return bundle, problems


def load_bundle(directory: Path) -> FlowBundle:
    """Load and fully check the flows; raise `FlowError` listing every problem."""
    from bot.flows.checks import check_bundle

    bundle, problems = parse_folder(directory)
    if bundle is not None and not problems:  # graph checks on a half-parsed folder are noise
        problems = check_bundle(bundle)
    if problems or bundle is None:
        raise FlowError(problems)
    return bundle
