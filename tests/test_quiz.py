"""Self-check questions (mlbook.quiz): answered right and wrong in the browser, with no kernel."""

import pytest
from conftest import call_js, load_module, renders, show_widgets, wait_rendered

from mlbook.quiz import Choice, Number, Quiz


def _quiz():
    return Quiz([
        Choice("Which way does the gradient point?", ["uphill", "downhill"], answer=0,
               explain="It is the direction of steepest ascent.",
               why=["", "Descent steps against it; the gradient itself points uphill."]),
        Number("What is d/dx of x² at x = 3?", answer=6, tolerance=0.01,
               explain="2x at x = 3 is 6."),
    ], title="Check the gradient")


def test_a_right_and_a_wrong_choice_get_their_feedback(sandbox_page, sandbox):
    root = show_widgets(sandbox_page, sandbox, _quiz()).first
    first = root.locator(".mlbook-question").nth(0)
    before = renders(root)
    first.get_by_label("downhill").check()
    wait_rendered(root, before)
    feedback = first.locator(".mlbook-feedback")
    assert feedback.get_attribute("data-right") == "false"
    assert "Descent steps against it" in feedback.inner_text()
    first.get_by_label("uphill").check()
    assert feedback.get_attribute("data-right") == "true"
    assert "steepest ascent" in feedback.inner_text()
    assert root.locator(".mlbook-score").inner_text() == "1 of 2 right"
    assert not sandbox_page.mlbook_log.errors


@pytest.mark.parametrize(("typed", "right"), [("6", "true"), ("6.005", "true"), ("5.9", "false")])
def test_numeric_answers_count_within_the_tolerance(sandbox_page, sandbox, typed, right):
    root = show_widgets(sandbox_page, sandbox, _quiz()).first
    second = root.locator(".mlbook-question").nth(1)
    second.get_by_label("your answer").fill(typed)
    second.get_by_role("button", name="check").click()
    assert second.locator(".mlbook-feedback").get_attribute("data-right") == right


@pytest.mark.parametrize("typed", ["", "six", "nan", "1e999"])
def test_a_reply_that_is_not_a_number_says_what_to_type(sandbox_page, sandbox, typed):
    root = show_widgets(sandbox_page, sandbox, _quiz()).first
    second = root.locator(".mlbook-question").nth(1)
    second.get_by_label("your answer").fill(typed)
    second.get_by_label("your answer").press("Enter")
    feedback = second.locator(".mlbook-feedback")
    assert "number" in feedback.inner_text() or "finite" in feedback.inner_text()
    assert feedback.get_attribute("data-right") == ""
    assert not sandbox_page.mlbook_log.errors


def test_questions_set_from_python_show_in_the_page(sandbox_page, sandbox):
    quiz = _quiz()
    quiz.title = "Retitled in Python"
    root = show_widgets(sandbox_page, sandbox, quiz).first
    assert root.locator(".mlbook-quiz-title").inner_text() == "Retitled in Python"
    assert root.locator(".mlbook-question").count() == 2


def test_the_browser_rule_matches_the_python_definition(sandbox_page, sandbox):
    sandbox_page.goto(sandbox[1] + "/require-config.js")
    load_module(sandbox_page, "quiz")
    question = Number("x?", answer=1.5, tolerance=0.25, explain="because").as_dict()
    for reply, expected in [(1.25, True), (1.75, True), (1.76, False), (1.2, False)]:
        assert call_js(sandbox_page, "isRight", question, reply) is expected


def test_the_fallback_lists_questions_and_answers():
    text = _quiz().fallback()
    assert "Which way does the gradient point?" in text and "downhill" in text
    assert "Answers:" in text and "2x at x = 3 is 6." in text
