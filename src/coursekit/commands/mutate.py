"""``course mutate <id> [--sample N --seed S] [--jobs J] [--parts P...] [--out DIR]``; ``--summary [--survivors]``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from coursekit.config import CourseConfigError, load_course
from coursekit.grading.api import GraderError
from coursekit.grading.paths import MilestonePaths


@click.command(name="mutate")
@click.argument("milestone_id")
@click.option("--sample", type=click.IntRange(min=1), default=None,
              help="Grade a reproducible random sample of N mutants instead of all of them.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sample.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Mutants graded in parallel.")
@click.option("--parts", multiple=True, help="Only mutate these parts (repeat the option; default: every part).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where report.json and report.md go (default: out/mutate/<id>).")
@click.option("--exhaustive", is_flag=True,
              help="Run every test of a mutant's part (default: stop at its first lost test, which already kills it).")
@click.option("--mutant", "mutant_ids", multiple=True,
              help="Grade only these mutant ids (repeat the option), e.g. the survivors of a previous run.")
@click.option("--list", "list_only", is_flag=True, help="Print the mutants (id, part, operator) and grade nothing.")
@click.option("--summary", is_flag=True,
              help="Grade nothing: the kill rate per part over every report under out/mutate/<id> (or --out), "
                   "the newest verdict per mutant winning.")
@click.option("--survivors", is_flag=True, help="With --summary: print the ids still surviving (ID PART OPERATOR).")
@click.pass_context
def command(ctx: click.Context, milestone_id: str, sample: int | None, seed: int, jobs: int, parts: tuple[str, ...],
            device: str, out_dir: Path | None, exhaustive: bool, mutant_ids: tuple[str, ...], list_only: bool,
            summary: bool, survivors: bool) -> None:
    """Measure the hidden suite: mutate every solution region of MILESTONE_ID's source notebook,
    grade each mutant on its part with the sandboxed grader, report the kill rate per part.

    Mutants a person marked as equivalent (reference/<id>/equivalent-mutants.yaml: id, part,
    diff, reason) are listed and left out of the kill rate. --summary reads the reports of
    earlier runs (full runs, re-checks of survivors) instead of grading.
    """
    from coursekit.mutate.equivalents import FILE_NAME, EquivalentsError, load_equivalents
    from coursekit.mutate.generate import generate
    from coursekit.mutate.generate import sample as take_sample
    from coursekit.mutate.report import build_report, outcome_entry, write_report
    from coursekit.mutate.runner import grade_all, grade_reference

    course_file = Path(ctx.obj["course_file"] if ctx.obj else "course.yaml").resolve()
    try:
        milestone = load_course(course_file, check_files=False).milestone(milestone_id, error=click.ClickException)
    except CourseConfigError as exc:
        raise click.ClickException(str(exc)) from None
    unknown = [p for p in parts if p not in milestone.parts]
    if unknown:
        raise click.ClickException(f"{milestone.id} has no part {', '.join(unknown)}; its parts are "
                                   f"{', '.join(milestone.parts)}")
    paths = MilestonePaths.of(course_file, milestone)
    try:
        equivalents = load_equivalents(paths.reference_dir / FILE_NAME)
    except EquivalentsError as exc:
        raise click.ClickException(str(exc)) from None
    if survivors and not summary:
        raise click.UsageError("--survivors goes with --summary")
    if summary:
        _summarise(milestone.id, out_dir or paths.root / "out" / "mutate" / milestone.id, set(equivalents), survivors)
        return
    generation = generate(paths.source_notebook, list(parts) or None)
    marked = [(m, equivalents[m.id]) for m in generation.mutants if m.id in equivalents]
    candidates = [m for m in generation.mutants if m.id not in equivalents]
    known = {m.id for m in generation.mutants} | {m.id for m in generation.not_compiling}
    stale = [e for e in equivalents.values() if e.id not in known and (not parts or e.part in parts)]
    if mutant_ids:
        missing = sorted(set(mutant_ids) - {m.id for m in candidates})
        if missing:
            raise click.ClickException(f"no mutant {', '.join(missing)} among {milestone.id}'s (equivalent ones are "
                                       "skipped); list them with --list")
        candidates = [m for m in candidates if m.id in set(mutant_ids)]
    chosen = take_sample(candidates, sample, seed)
    click.echo(f"{milestone.id}: {len(generation.mutants)} mutants ({len(marked)} marked equivalent, "
               f"{len(generation.not_compiling)} not compiling, dropped); grading {len(chosen)} with {jobs} job(s)")
    if generation.unparsed_cells:
        click.echo(f"warning: cells {generation.unparsed_cells} could not be parsed (IPython syntax?) and were not mutated")
    if list_only:
        for m in chosen:
            click.echo(f"{m.id}  {m.part:<16} cell {m.cell} line {m.line}: {m.operator}")
        return
    try:
        lost = grade_reference(course_file, milestone.id, paths.source_notebook,
                               sorted({m.part for m in chosen}), device)
        if lost:
            raise click.ClickException(f"the unmutated reference loses points on {', '.join(lost)}; fix the "
                                       "reference or the suite first (no kill would mean anything)")
        target = out_dir or paths.root / "out" / "mutate" / milestone.id
        target.mkdir(parents=True, exist_ok=True)
        progress = target / "progress.jsonl"  # one line per graded mutant, kept if the run is interrupted
        progress.write_text("", encoding="utf-8")

        def record(outcome) -> None:
            with progress.open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(outcome_entry(outcome)) + "\n")

        outcomes = grade_all(course_file, milestone.id, paths.source_notebook, chosen, jobs=jobs, device=device,
                             echo=lambda line: click.echo(line), exhaustive=exhaustive, record=record)
    except GraderError as exc:
        raise click.ClickException(str(exc)) from None
    report = build_report(milestone_id=milestone.id, outcomes=outcomes, equivalents=marked,
                          not_compiling=generation.not_compiling, generated=len(generation.mutants),
                          sample=sample, seed=seed, stale_equivalents=stale)
    json_path, md_path = write_report(report, target)
    for part, row in report["parts"].items():
        rate = "—" if row["kill_rate"] is None else f"{100 * row['kill_rate']:.1f}%"
        click.echo(f"{part:<18} {rate:>7} killed of {row['graded']} graded ({row['survived']} survived, "
                   f"{row['equivalent']} equivalent)")
    click.echo(f"wrote {json_path} and {md_path}")


def _summarise(milestone_id: str, base: Path, equivalent: set[str], survivors_only: bool) -> None:
    from coursekit.mutate import summary

    latest = summary.latest_outcomes(base)
    if not latest.files:
        raise click.ClickException(f"nothing to summarise: no report.json or progress.jsonl under {base}; "
                                   f"`course mutate {milestone_id}` makes one")
    if survivors_only:
        for entry in summary.survivors(latest, equivalent):
            click.echo(f"{entry['id']} {entry['part']} {entry['operator']}")
    else:
        click.echo(summary.render_table(latest, equivalent))
