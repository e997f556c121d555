// ---- mlbook/js/quiz.js: self-check questions with immediate feedback (mlbook.quiz.Quiz) ----------

/** Is a typed reply right? Exported for the tests; the same rule as the Python docstring says. */
export function isRight(question, reply) {
  if (question.kind === "choice") return reply === question.answer;
  return Math.abs(reply - question.answer) <= question.tolerance;
}

function typeset(node) {
  const mathjax = globalThis.MathJax;
  if (mathjax && typeof mathjax.typesetPromise === "function") {
    mathjax.typesetPromise([node]).catch(() => {});
  }
}

function feedback(root, box, right, text) {
  box.className = `mlbook-message mlbook-${right ? "info" : "warning"} mlbook-feedback`;
  box.dataset.right = String(right);
  box.textContent = `${right ? "Right." : "Not quite."} ${text}`;
  typeset(box);
}

function choiceQuestion(root, question, index, onAnswer) {
  const name = `q${index}-${Math.random().toString(36).slice(2)}`;
  const box = h("div", { class: "mlbook-feedback", role: "status", "aria-live": "polite" });
  const options = question.options.map((option, i) => h("label", { class: "mlbook-option" },
    h("input", { type: "radio", name, value: i, "data-bench": "click", onchange: guard(root, () => {
      const right = isRight(question, i);
      const why = question.why && question.why[i] ? question.why[i] : "";
      feedback(root, box, right, right ? question.explain : (why || "Try another option."));
      onAnswer(index, right);
    }) }), " ", option));
  return [h("div", { class: "mlbook-options" }, options), box];
}

function numberQuestion(root, question, index, onAnswer) {
  const box = h("div", { class: "mlbook-feedback", role: "status", "aria-live": "polite" });
  const input = h("input", { type: "text", inputmode: "decimal", "aria-label": "your answer",
    style: { width: "8em" } });
  const check = guard(root, () => {
    const parsed = parseNumber(input.value, { name: "your answer" });
    if (parsed.error) {
      box.className = "mlbook-message mlbook-error mlbook-feedback";
      box.dataset.right = "";
      box.textContent = parsed.error;
      return;
    }
    const right = isRight(question, parsed.value);
    feedback(root, box, right, right ? question.explain
      : `${fmt(parsed.value, 6)} is not it. Check your working and try again.`);
    onAnswer(index, right);
  });
  input.addEventListener("keydown", (event) => event.key === "Enter" && check());
  return [h("div", { class: "mlbook-row" }, input, question.unit || "",
    h("button", { type: "button", class: "mlbook-button", onclick: check }, "check")), box];
}

function render({ model, el }) {
  const root = h("div", { class: "mlbook-widget mlbook-quiz" });
  el.append(root);
  const draw = guard(root, () => {
    const questions = model.get("questions");
    const right = new Array(questions.length).fill(false);
    const score = h("div", { class: "mlbook-readout mlbook-score" });
    const count = () => {
      score.textContent = `${right.filter(Boolean).length} of ${questions.length} right`;
    };
    const onAnswer = (index, ok) => {
      right[index] = ok;
      count();
      rendered(root);
    };
    const items = questions.map((question, index) => h("li", { class: "mlbook-question" },
      h("div", { class: "mlbook-question-text" }, question.text),
      question.kind === "choice" ? choiceQuestion(root, question, index, onAnswer)
        : numberQuestion(root, question, index, onAnswer)));
    count();
    root.replaceChildren(h("div", { class: "mlbook-quiz-title" }, model.get("title")),
      h("ol", {}, items), score);
    typeset(root);
    rendered(root);
  });
  draw();
  model.on("change:questions", draw);
  model.on("change:title", draw);
}

export default { render };
