"""Figures and the widget of notebook 08 (visual question answering).

    draw_answer            a scene, a question, the attention of each hop over the image, and
                           the answer distribution (the widget's picture, also static)
    vqa_widget             choose a scene, pick one of its questions or type one; the answer
                           distribution and the attention of each hop, live from the model
    draw_type_accuracy     accuracy per question type of several models, as grouped bars
    draw_confusion         the confusion matrix of one question type
    draw_examples          questions with their answers and the last hop's attention
"""
import textwrap

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from utils import validate
from utils.data import shapes_questions
from utils.data.shapes import Scene
from utils.models.vqa import VQAModel, is_multiple_choice
from utils.models.vqa_io import answer_question
from utils.palette import BLACK, BLUE, COUNTS_MAP, ORANGE, VERMILLION, WHITE
from utils.viz.attention import attention_overlay, attention_peak
from utils.viz.figure import live, show
from utils.viz.shapes import describe_scene, draw_scene

TYPE_YOUR_OWN = "(type a question below)"


def _note(result):
    if result["unknown"]:
        return ("not in the vocabulary, read as <UNK>: "
                + ", ".join(sorted(set(result["unknown"]))))
    return ""


def draw_answer(scene, question, result, truth=None):
    """One question about one scene: the image under each hop's attention, and the answers.

    scene: shapes.Scene; question: its text; result: from ``answer_question``; truth: the
    right answer, if known (marked in the bar chart).
    Shows the figure with alt text naming the question, the hops' peaks and the top answers.
    Returns: the Figure.
    """
    fname = "draw_answer"
    if not isinstance(scene, Scene):
        raise ValueError(f"{fname}: scene must be a shapes.Scene, got {validate.shown(scene)}")
    maps = result["attention"]
    hops = 0 if maps is None else len(maps)
    fig, axes = plt.subplots(1, hops + 2, figsize=(2.6 * (hops + 2) + 1.2, 3.0),
                             gridspec_kw={"width_ratios": [1] * (hops + 1) + [1.6]})
    draw_scene(axes[0], scene, title="image")
    for k in range(hops):
        ax = axes[1 + k]
        ax.imshow(attention_overlay(scene.image, maps[k]), interpolation="nearest")
        ax.set_title(f"hop {k + 1} (max {maps[k].max():.2f})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    bars = axes[-1]
    answers, probs = result["answers"][::-1], result["probs"][::-1]
    colours = [ORANGE if truth is not None and a == truth else BLUE for a in answers]
    bars.barh(range(len(answers)), probs, color=colours)
    bars.set_yticks(range(len(answers)))
    bars.set_yticklabels(answers, fontsize=8)
    bars.set_xlim(0, 1)
    bars.set_xlabel("probability", fontsize=8)
    bars.set_title("answers" + ("" if truth is None else f" (right: {truth})"), fontsize=9)
    title = question
    note = _note(result)
    if note:
        title += "\n" + note
    fig.suptitle("\n".join(textwrap.wrap(title, 90)), fontsize=9,
                 color=VERMILLION if note else BLACK)
    fig.tight_layout()
    peaks = "".join(f"; hop {k + 1}'s attention peaks at {attention_peak(scene, maps[k])}" for k in range(hops))
    top = ", ".join(f"{a} {p:.2f}" for a, p in zip(result["answers"][:3], result["probs"][:3]))
    show(fig, f"The question '{question}'{' (' + note + ')' if note else ''} about the image of "
              f"{describe_scene(scene)}{peaks}; bars of the answers' probabilities, most likely {top}"
              + ("" if truth is None else f"; the right answer, {truth}, is the orange bar") + ".")
    return fig


def _check_inputs(fname, model, scenes, summary, grid):
    if not isinstance(model, VQAModel) or is_multiple_choice(model):
        raise ValueError(f"{fname}: model must be an answer classifier of utils.models.vqa "
                         f"(e.g. StackedAttention), got {validate.shown(model)}")
    if isinstance(scenes, Scene) or not isinstance(scenes, (list, tuple)) or not scenes \
            or not all(isinstance(s, Scene) for s in scenes):
        raise ValueError(f"{fname}: scenes must be a non-empty list of shapes.Scene, "
                         f"got {validate.shown(scenes)}")
    validate.shapes(fname, "summary: S P, grid: S L D", summary, grid, S=len(scenes))


def vqa_widget(model, scenes, summary, grid, scene=0, question=0):
    """Choose a scene, pick one of its questions or type your own, see the answer.

    model: a classifier (StackedAttention shows its hops). scenes: list of shapes.Scene;
    summary (S, P), grid (S, L, D): their encoder features. scene: the scene shown first;
    question: index of the question picked first (the scene's questions, one per type).
    Draws the default state as a static figure first, then the controls (scene slider,
    question menu, text box) over the live figure. A typed question with unknown words is
    answered with them read as <UNK>, and the figure says which; an empty one gets a message.
    Returns: the widget box.
    """
    fname = "vqa_widget"
    _check_inputs(fname, model, scenes, summary, grid)
    scene = validate.int_in_range(fname, "scene", scene, 0, len(scenes) - 1)
    asked = {}

    def scene_questions(index):
        if index not in asked:
            asked[index] = shapes_questions.questions(scenes[index])
        return asked[index]

    question = validate.int_in_range(fname, "question", question, 0, len(scene_questions(scene)) - 1)

    def draw(scene, picked, typed):
        found = {q.text: q for q in scene_questions(scene)}
        text = typed if picked == TYPE_YOUR_OWN else picked
        if not isinstance(text, str) or not text.strip():
            fig, ax = plt.subplots(figsize=(4.5, 3.0))
            draw_scene(ax, scenes[scene], title="type a question in the box, e.g. "
                                                 "'what colour is the circle ?'")
            show(fig, f"Scene {scene}, {describe_scene(scenes[scene])}, waiting for a question "
                      f"typed in the box.")
            return
        try:
            result = answer_question(model, summary[scene], grid[scene], text)
        except ValueError as error:   # a question with no words: say so instead of a traceback
            fig, ax = plt.subplots(figsize=(4.5, 3.0))
            draw_scene(ax, scenes[scene], title=str(error).split(": ", 1)[-1][:70])
            show(fig, f"Scene {scene}, {describe_scene(scenes[scene])}, with the message that the "
                      f"question '{text}' cannot be answered: {str(error).split(': ', 1)[-1]}")
            return
        truth = found[text].answer if text in found else None
        draw_answer(scenes[scene], text, result, truth)

    first = scene_questions(scene)
    result = answer_question(model, summary[scene], grid[scene], first[question].text)
    draw_answer(scenes[scene], first[question].text, result, first[question].answer)
    style = {"description_width": "60px"}
    scene_slider = widgets.IntSlider(value=scene, min=0, max=len(scenes) - 1, description="scene",
                                     continuous_update=False, style=style,
                                     layout=widgets.Layout(width="300px"))
    menu = widgets.Dropdown(options=[q.text for q in first] + [TYPE_YOUR_OWN],
                            value=first[question].text, description="question", style=style,
                            layout=widgets.Layout(width="440px"))
    typed = widgets.Text(value="", placeholder="what shape is the red object ?",
                         description="typed", continuous_update=False, style=style,
                         layout=widgets.Layout(width="440px"))

    def new_scene(change):  # registered before the redraw: the menu lists the new scene's questions
        options = [q.text for q in scene_questions(change["new"])] + [TYPE_YOUR_OWN]
        keep = menu.value if menu.value == TYPE_YOUR_OWN else options[0]
        menu.options = options
        menu.value = keep

    scene_slider.observe(new_scene, names="value")
    # Two rows (scene and menu, then the text box): three wide controls in one row would not
    # fit a 1280-px JupyterLab window with the file browser open.
    output = widgets.interactive_output(live(draw), {"scene": scene_slider, "picked": menu, "typed": typed})
    box = widgets.VBox([widgets.HBox([scene_slider, menu]), widgets.HBox([typed]), output])
    display(box)
    return box


def draw_type_accuracy(results, split="test"):
    """Grouped bars: accuracy per question type (and overall) of each model on one split.

    results: {model name: {split: accuracy_by_type(...)}}. Returns: the Figure.
    """
    fname = "draw_type_accuracy"
    if not isinstance(results, dict) or not results:
        raise ValueError(f"{fname}: results must be a non-empty dict, got {validate.shown(results)}")
    missing = [name for name, by_split in results.items() if split not in by_split]
    if missing:
        raise ValueError(f"{fname}: split must be a split every model was measured on, got "
                         f"{split!r}, which {', '.join(map(str, missing))} lacks")
    columns = list(shapes_questions.QUESTION_TYPES) + ["overall"]
    fig, ax = plt.subplots(figsize=(10, 3.9))
    width = 0.8 / len(results)
    for k, (name, by_split) in enumerate(results.items()):
        acc = by_split[split]
        values = [np.nan if acc.get(c) is None else acc[c] for c in columns]
        ax.bar(np.arange(len(columns)) + (k - (len(results) - 1) / 2) * width, values, width,
               label=name)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"accuracy ({split})")
    ax.legend(fontsize=7, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    overall = ", ".join(f"{name} {by_split[split]['overall']:.2f}" for name, by_split in results.items()
                        if by_split[split].get("overall") is not None)
    show(fig, f"Grouped bars of accuracy on the {split} split, from 0 to 1, for each question type "
              f"({', '.join(columns)}), one bar per model in the order {', '.join(map(str, results))}"
              + (f"; overall accuracy: {overall}." if overall else "."))
    return fig


def draw_confusion(labels, matrix, title=""):
    """A confusion matrix (rows: true answer, columns: predicted), counts in the cells."""
    fname = "draw_confusion"
    if not isinstance(labels, (list, tuple)) or not labels or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{fname}: labels must be a non-empty list of answer names, "
                         f"got {validate.shown(labels)}")
    validate.shapes(fname, "matrix: K K", matrix, K=len(labels))
    matrix = validate.int_array(fname, "matrix", matrix, low=0)
    fig, ax = plt.subplots(figsize=(max(3.2, 1.0 + 0.45 * len(labels)), max(2.8, 0.8 + 0.4 * len(labels))))
    ax.imshow(matrix, cmap=COUNTS_MAP)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color=WHITE if matrix[i, j] > matrix.max() / 2 else BLACK)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.grid(False)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    off = matrix - np.diag(np.diag(matrix))
    i, j = np.unravel_index(int(np.argmax(off)), off.shape)
    errors = (f"; the most frequent error is {labels[i]} answered as {labels[j]}, {off[i, j]} times"
              if off[i, j] else "; there are no errors")
    show(fig, f"{title + ': ' if title else ''}confusion matrix of {matrix.sum()} answers, rows the true "
              f"answer and columns the predicted one, over the answers {', '.join(labels)}, a darker "
              f"cell for more answers; "
              f"{np.trace(matrix)} lie on the diagonal (right){errors}.")
    return fig


def draw_examples(scenes, data, rows, predicted, attention, title=""):
    """Some questions: the image under each hop's attention (one row per hop), the question,
    the model's answer and the right one; the object the answer is about in a dashed box.

    scenes: list of Scene indexed by data["scene"]; rows: question indices; predicted: (M,)
    answer indices; attention: (M, hops, L). Returns: the Figure (None when rows is empty).
    """
    fname = "draw_examples"
    names = shapes_questions.answer_vocab()
    M = len(data["texts"])
    rows = list(validate.int_array(fname, "rows", rows, ndim=1, low=0, high=M))
    validate.shapes(fname, "predicted: M, attention: M hops L", predicted, attention, M=M)
    predicted = validate.int_array(fname, "predicted", predicted, low=0, high=len(names))
    attention = validate.float_array(fname, "attention", attention)
    if not rows:
        print("(no such question)")
        return None
    hops = attention.shape[1]
    fig, axes = plt.subplots(hops, len(rows), figsize=(2.7 * len(rows), 2.5 * hops + 1.0), squeeze=False)
    for col, m in enumerate(rows):
        scene = scenes[int(data["scene"][m])]
        for k in range(hops):
            ax = axes[k, col]
            ax.imshow(attention_overlay(scene.image, attention[m, k]), interpolation="nearest")
            if data["has_target"][m]:
                x0, y0, x1, y1 = data["target_box"][m]
                ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                           edgecolor=WHITE, lw=1, ls="--"))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if col == 0:
                ax.set_ylabel(f"hop {k + 1}", fontsize=9)
        text = "\n".join(textwrap.wrap(data["texts"][m], 32))
        axes[0, col].set_title(text, fontsize=8)
        axes[-1, col].set_xlabel(f"said {names[predicted[m]]}, right {data['answers'][m]}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    cases = "; ".join(f"'{data['texts'][m]}' said {names[predicted[m]]}, right {data['answers'][m]}, "
                      + ", ".join(f"hop {k + 1} peaks at {attention_peak(scenes[int(data['scene'][m])], attention[m, k])}"
                                  for k in range(hops)) for m in rows)
    show(fig, f"{title + ': ' if title else ''}{len(rows)} question{'s' if len(rows) > 1 else ''}, one column "
              f"each, the image under each of the {hops} hops' attention (one row per hop): {cases}.")
    return fig
