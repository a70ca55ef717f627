"""Teams Adaptive Cards: structure, verbs, limits and escaping, rendered from the real flows."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from bot.analysis.paths import outcomes
from bot.channels.teams import cards
from bot.channels.teams.cards import Verb
from bot.core.answer import short_answer
from bot.core.engine import QuestionStep
from bot.core.presentation import Cited, outcome_view
from bot.core.record import RECORD_FIELDS
from bot.dsl.ports import CardView, DslGroup, EscalationNotice, ExportFile, Fact, Person
from bot.flows.schema import Question


def walk(node: Any):
    """Every dict inside a card, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def of_type(card: dict, kind: str) -> list[dict]:
    return [n for n in walk(card) if n.get("type") == kind]


def texts(card: dict) -> list[str]:
    return [n["text"] for n in walk(card) if n.get("type") == "TextBlock"]


def shown(text: str) -> str:
    """What a CommonMark renderer shows for escaped text: backslash-escapes resolved."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def questions(bundle):
    for flow in bundle.flows.values():
        for node in flow.nodes:
            if isinstance(node, Question):
                yield flow.id, node


def test_every_question_in_the_flows_renders_as_a_valid_card(real_bundle):
    count = 0
    for flow_id, question in questions(real_bundle):
        step = QuestionStep(flow_id, question, 3)
        card = cards.question_card(step, "conv1", 7, can_go_back=True)
        count += 1
        assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
        assert cards.size(card) < cards.MAX_CARD_BYTES
        executes = of_type(card, "Action.Execute")
        assert executes and all(a["verb"] and a["data"]["action"] == a["verb"] for a in executes)
        assert all(a["data"]["c"] == "conv1" and a["data"]["v"] == 7 and a["data"]["n"] == question.id
                   for a in executes)
        verbs = Counter(a["verb"] for a in executes)
        assert verbs[Verb.BACK] == verbs[Verb.RESTART] == verbs[Verb.TALK_TO_DSL] == 1
        if question.multi:
            [picker] = of_type(card, "Input.ChoiceSet")
            assert picker["isMultiSelect"] is True and picker["style"] == "expanded"
            assert picker["id"] == cards.MULTI_INPUT_ID
            assert [c["value"] for c in picker["choices"]] == [c.id for c in question.choices]
            assert verbs[Verb.MULTI_CONTINUE] == 1 and verbs[Verb.ANSWER] == 0
        else:
            answers = [a["data"]["a"] for a in executes if a["verb"] == Verb.ANSWER]
            assert answers == [c.id for c in question.choices]
            titles = [a["title"] for a in executes if a["verb"] == Verb.ANSWER]
            assert titles == [c.label for c in question.choices]
        assert shown(texts(card)[1]) == question.text
    assert count > 20


def _question(real_bundle, *, multi: bool = False, with_help: bool = True) -> QuestionStep:
    for flow_id, question in questions(real_bundle):
        has_help = bool(question.help or any(c.help for c in question.choices))
        if question.multi == multi and has_help == with_help:
            return QuestionStep(flow_id, question, 1)
    pytest.skip("no such question in the flows")


def test_why_are_we_asking_toggles_hidden_help(real_bundle):
    step = _question(real_bundle)
    card = cards.question_card(step, "c", 1, can_go_back=False)
    [toggle] = [t for t in of_type(card, "Action.ToggleVisibility") if t["title"] == "Why are we asking?"]
    [help_box] = [n for n in walk(card) if n.get("id") == "help"]
    assert toggle["targetElements"] == ["help"] and help_box["isVisible"] is False
    help_text = " ".join(shown(t) for t in texts(help_box))
    assert (step.question.help or "") in help_text


def test_no_back_button_on_the_first_question_and_no_toggle_without_help(real_bundle):
    step = _question(real_bundle, with_help=False)
    card = cards.question_card(step, "c", 1, can_go_back=False)
    assert Verb.BACK not in {a["verb"] for a in of_type(card, "Action.Execute")}
    assert of_type(card, "Action.ToggleVisibility") == []


def test_the_remembered_profile_line_has_a_change_link(real_bundle):
    step = _question(real_bundle)
    card = cards.question_card(step, "conv9", 2, can_go_back=True, profile_line="England, NHS")
    [row] = of_type(card, "ColumnSet")
    assert shown(" ".join(texts(row))) == "You are answering as: England, NHS (change)"
    change = row["columns"][1]["selectAction"]
    assert change["type"] == "Action.Execute" and change["verb"] == Verb.PROFILE_CHANGE
    assert change["data"]["c"] == "conv9"


def test_multi_values_arrive_comma_separated():
    assert cards.multi_values("neglect, sexual_abuse,,") == ["neglect", "sexual_abuse"]
    assert cards.multi_values(None) == [] and cards.multi_values(["a"]) == ["a"]


NASTY = "**Bold** _it_ [link](https://evil.example) <at>Head</at> `code` ~~x~~ #1\n- item\n1. first"


def test_typed_text_is_shown_as_typed_not_as_markdown():
    escaped = cards.escape(NASTY)
    assert shown(escaped) == NASTY
    # nothing a markdown renderer would act on is left bare
    assert re.search(r"(?<!\\)[*_\[\]()`~<>#]", escaped) is None
    assert not re.search(r"^\s*(-|\d+\.)\s", escaped, re.MULTILINE)


def test_flow_text_with_markdown_is_escaped_in_the_question_card(real_bundle):
    step = _question(real_bundle)
    question = step.question.model_copy(update={"text": NASTY})
    card = cards.question_card(replace(step, question=question), "c", 1, can_go_back=False)
    assert NASTY not in json.dumps(card)
    assert NASTY in [shown(t) for t in texts(card)]


def test_control_characters_are_dropped_and_long_text_is_cut():
    assert cards.escape("a\x00b\x1bc") == "abc"
    long = cards.escape("x" * 10_000)
    assert len(long) == cards.TEXT_LIMIT and long.endswith("…")


# --- outcome -------------------------------------------------------------------------------------
def views(bundle, engine):
    for outcome in outcomes(bundle):
        yield outcome_view(bundle, engine.resolve(outcome, {}))


def test_every_outcome_puts_the_verdict_first_and_the_rest_behind_a_toggle(real_bundle, real_engine):
    for view in views(real_bundle, real_engine):
        card = cards.outcome_card(short_answer(view), view, "conv2", 11)
        assert cards.size(card) < cards.MAX_CARD_BYTES
        duties = len(view.personal_duties)  # a person's own duty comes before the verdict (E3 U5)
        assert [shown(b["text"]) for b in card["body"][:duties]] == [f"Your own duty: {d.text}"
                                                                     for d in view.personal_duties]
        assert shown(card["body"][duties]["text"]) == view.verdict_label
        [details] = [n for n in card["body"] if n.get("id") == cards.DETAILS_ID]
        assert details["isVisible"] is False
        hidden = " ".join(shown(t) for t in texts(details))
        for rule in view.rules:
            assert rule.source in hidden
        for gateway in view.gateways:
            assert gateway.title in hidden
        [why] = card["actions"][:1]
        assert why["type"] == "Action.ToggleVisibility" and why["title"] == "Why, and the law"
        assert why["targetElements"] == [cards.DETAILS_ID]


def test_record_my_decision_opens_a_dialog(real_bundle, real_engine):
    view = next(views(real_bundle, real_engine))
    card = cards.outcome_card(short_answer(view), view, "conv2", 11)
    [record] = [a for a in card["actions"] if a["title"] == "Record my decision"]
    assert record["type"] == "Action.Submit"
    assert record["data"]["msteams"] == {"type": "task/fetch"}
    assert record["data"]["dialog_id"] == Verb.RECORD_OPEN
    assert (record["data"]["c"], record["data"]["v"]) == ("conv2", 11)
    assert {a["verb"] for a in card["actions"] if a["type"] == "Action.Execute"} == {
        Verb.TALK_TO_DSL, Verb.RESTART}


def test_an_outcome_with_pages_of_text_still_fits(real_bundle, real_engine):
    view = next(views(real_bundle, real_engine))
    huge = replace(view, rules=[Cited(f"R{i}", "Rule", "text " * 300, "source " * 20) for i in range(60)],
                   checklist=["item " * 200] * 60)
    card = cards.outcome_card(short_answer(huge), huge, "c", 1)
    assert cards.size(card) < cards.MAX_CARD_BYTES
    assert shown(card["body"][0]["text"]) == view.verdict_label


# --- record dialog --------------------------------------------------------------------------------
def test_the_record_dialog_has_recordforms_fields_and_limits():
    card = cards.record_dialog_card("conv3", 4)
    inputs = {n["id"]: n for n in walk(card) if str(n.get("type", "")).startswith("Input.")}
    assert set(inputs) == {"decision", *(f.id for f in RECORD_FIELDS)}
    for spec in RECORD_FIELDS:  # the same limits and required fields as every channel
        assert inputs[spec.id]["maxLength"] == spec.max_length
        assert bool(inputs[spec.id]["isRequired"]) == spec.required
    assert [c["value"] for c in inputs["decision"]["choices"]] == ["shared", "not_shared", "deferred"]
    assert inputs["decision"]["isRequired"] and not inputs["case_reference"]["isRequired"]
    [save] = card["actions"]
    assert save["type"] == "Action.Submit"
    assert save["data"] == {"action": Verb.RECORD_SUBMIT, "c": "conv3", "v": 4}


def test_a_refused_record_keeps_what_was_typed_and_shows_the_errors():
    typed = {"decision": "shared", "what": "concerns about **neglect**", "reasons": "risk"}
    card = cards.record_dialog_card("c", 1, values=typed, errors={
        "what": "This looks like it holds a phone number: describe it in general terms.",
        cards.FORM_ERROR: "Your decision could not be saved yet."})
    inputs = {n["id"]: n for n in walk(card) if "id" in n}
    assert inputs["what"]["value"] == typed["what"]  # input values are not markdown
    assert inputs["decision"]["value"] == "shared"
    shown_texts = [shown(t) for t in texts(card)]
    assert "Your decision could not be saved yet." in shown_texts
    assert any("phone number" in t for t in shown_texts)


def test_dialog_answers_wrap_the_card():
    body = cards.dialog(cards.record_dialog_card("c", 1), "Record your decision")
    assert body["task"]["type"] == "continue"
    assert body["task"]["value"]["card"]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert cards.dialog_closed("Saved")["task"] == {"type": "message", "value": "Saved"}
    answer = cards.replace_card(cards.welcome_card())
    assert answer["type"] == "application/vnd.microsoft.card.adaptive" and answer["value"]["version"] == "1.5"


# --- the DSL channel -------------------------------------------------------------------------------
REQUESTER, DSL = "0f8fad5b-d9cb-469f-a165-70867728950e", "7c9e6679-7425-40de-944b-e07fc1f90ae7"
VIEW = CardView(
    escalation_id=42, version=3, urgent=True, title="Urgent safeguarding escalation #42",
    requester=Person(REQUESTER), what="Share without consent", also=["Get advice today"],
    answers=[Fact("Is there a risk of significant harm?", "Yes"),
             Fact("What is the concern about?", "Sexual abuse")],
    rules=["GR1 protection first"], gateways=["Children Act 1989 s47"], raised_at="Tue 17 Nov 09:05",
    case_reference="CS-1042", out_of_hours="", status=("Unclaimed",), can_claim=True, can_resolve=True,
    can_ask=True)
NAMES = {REQUESTER: "Sam *Worker*", DSL: "Dee Lead"}


def card_text(card: dict) -> str:
    return json.dumps(card)


def test_the_escalation_card_names_no_case_details():
    card = cards.escalation_card(VIEW, NAMES)
    text = card_text(card)
    for detail in ("significant harm", "Sexual abuse", "GR1", "Children Act"):
        assert detail not in text
    assert "Share without consent" in text and "#42" in text and "CS-1042" in text
    assert cards.escalation_summary(VIEW) == "Urgent safeguarding escalation #42"  # the preview


def test_the_escalation_card_mentions_the_requester_and_whoever_acted():
    claimed = replace(VIEW, status=("Claimed by ", Person(DSL), " at Tue 17 Nov 09:09"), can_claim=False)
    card = cards.escalation_card(claimed, NAMES)
    assert card["msteams"]["entities"] == [
        {"type": "mention", "text": "<at>Sam Worker</at>", "mentioned": {"id": REQUESTER, "name": "Sam Worker"}},
        {"type": "mention", "text": "<at>Dee Lead</at>", "mentioned": {"id": DSL, "name": "Dee Lead"}}]
    assert "From <at>Sam Worker</at>" in texts(card)
    assert "Claimed by <at>Dee Lead</at> at Tue 17 Nov 09:09" in texts(card)


def test_someone_canishare_has_not_seen_is_still_mentioned():
    card = cards.escalation_card(VIEW, {})
    [entity] = card["msteams"]["entities"]
    assert entity["mentioned"]["id"] == REQUESTER and entity["text"] == "<at>a colleague</at>"


def test_escalation_buttons_follow_its_status():
    def buttons(**changes) -> list[str]:
        card = cards.escalation_card(replace(VIEW, **changes), NAMES)
        return [a.get("verb") or a["data"]["dialog_id"] for a in card["actions"]]

    assert buttons() == [Verb.DSL_CLAIM, Verb.DSL_DETAILS, Verb.DSL_RESOLVE_OPEN, Verb.DSL_MORE_INFO]
    assert buttons(can_claim=False) == [Verb.DSL_DETAILS, Verb.DSL_RESOLVE_OPEN, Verb.DSL_MORE_INFO]
    assert buttons(can_claim=False, can_resolve=False, can_ask=False) == [Verb.DSL_DETAILS]
    card = cards.escalation_card(VIEW, NAMES)
    assert all(a["data"]["e"] == 42 and a["data"]["v"] == 3 for a in card["actions"])
    assert all(a["verb"] for a in of_type(card, "Action.Execute"))


def test_typed_words_in_a_status_stay_words():
    resolved = replace(VIEW, status=("Resolved by ", Person(DSL), " at 10:00: ", "see **notes** <at>x</at>"))
    [status] = [t for t in texts(cards.escalation_card(resolved, NAMES)) if t.startswith("Resolved")]
    assert shown(status) == "Resolved by <at>Dee Lead</at> at 10:00: see **notes** <at>x</at>"
    assert "\\*\\*notes" in status and "\\<at\\>x" in status


def test_details_are_for_the_dsl_who_asked():
    card = cards.escalation_details_card(VIEW, NAMES)
    shown_texts = [shown(t) for t in texts(card)]
    assert "Is there a risk of significant harm? — Yes" in shown_texts
    assert "• GR1 protection first" in shown_texts and "• Children Act 1989 s47" in shown_texts


def test_the_resolve_dialog_keeps_the_note_and_shows_the_error():
    card = cards.resolve_dialog_card(42, note="done", error="This escalation is already resolved.")
    [note] = of_type(card, "Input.Text")
    assert note["value"] == "done" and note["maxLength"] == 500
    assert card["actions"][0]["data"] == {"action": Verb.DSL_RESOLVE_SUBMIT, "e": 42}


def test_a_message_mentions_people_and_the_dsl_group_and_escapes_the_rest():
    message = (DslGroup(), " Reminder: ", Person(REQUESTER), " asked about [this](http://x)")
    card = cards.message_card(message, NAMES, group=[DSL])
    [text] = texts(card)
    assert shown(text) == "<at>Dee Lead</at> Reminder: <at>Sam Worker</at> asked about [this](http://x)"
    assert {e["mentioned"]["id"] for e in card["msteams"]["entities"]} == {DSL, REQUESTER}
    assert cards.plain_text(message, NAMES) == "DSLs Reminder: Sam *Worker* asked about [this](http://x)"


def test_the_export_summary_is_the_desks_lines_with_who_asked():
    export = ExportFile("f.xlsx", b"", "Decisions", ["Decisions 09 Nov 2026 to 15 Nov 2026: 3", "Escalations: 1"],
                        requested_by=Person(DSL))
    card = cards.export_summary_card(export, NAMES, "The file went to 1 DSL")
    assert [shown(t) for t in texts(card)][:2] == ["Decisions 09 Nov 2026 to 15 Nov 2026: 3", "Escalations: 1"]
    assert "Requested by <at>Dee Lead</at>" in texts(card) and "The file went to 1 DSL" in card_text(card)


def test_welcome_and_apology_offer_a_way_on():
    for card in (cards.welcome_card(), cards.apology_card("ref-123")):
        assert [a["verb"] for a in card["actions"]] == [Verb.START_CHECK]
    assert "ref-123" in card_text(cards.apology_card("ref-123"))


def test_the_outcome_card_lays_out_the_cores_short_answer(real_bundle, real_engine):
    view = next(views(real_bundle, real_engine))
    notice = EscalationNotice(7, delivered=True)
    answer = replace(short_answer(view, notice), also=["Get advice: call the duty team today"])
    card = cards.outcome_card(answer, view, "c", 1)
    top = [shown(t) for t in texts(card)][:2]
    assert top == [answer.verdict, answer.action]  # verdict, then who does what by when
    [alert] = [n for n in card["body"] if n.get("style") == "good"]
    assert "Your DSLs have been alerted (escalation #7)" in shown(texts(alert)[0])
    assert "• Get advice: call the duty team today" in [shown(t) for t in texts(card)]
    practice = cards.outcome_card(replace(answer, practice=True), view, "c", 1)
    assert "Record my decision" not in card_text(practice) and "PRACTICE" in card_text(practice)
