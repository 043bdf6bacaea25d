"""The ``course`` command: a thin, lazy front door.

One module per verb lives in ``coursekit.commands``; each exposes a click command named
``command``. Verbs are imported only when used, so ``course --help`` stays fast and a
broken verb cannot take the others down.
"""

from __future__ import annotations

import importlib

import click

# verb -> (module, one-line help). Order is the order shown in --help.
VERBS: dict[str, tuple[str, str]] = {
    "new": ("coursekit.commands.new", "Scaffold a milestone: course.yaml entry, tagged notebook, tests, mutants."),
    "release": ("coursekit.commands.release", "Build student releases from source/ (or --check they are current)."),
    "validate": ("coursekit.commands.validate", "Prove milestones are sound: reference full marks, blank release 0."),
    "grade": ("coursekit.commands.grade", "Grade submissions with the hidden suites."),
    "data": ("coursekit.commands.data", "Fetch and verify the course's datasets."),
    "lint": ("coursekit.commands.lint", "Check release notebooks follow the course conventions."),
    "report": ("coursekit.commands.report", "Build the TA dashboard from a results folder."),
    "override": ("coursekit.commands.override", "Override a test's or part's score (kept across re-grades)."),
    "release-hold": ("coursekit.commands.release_hold", "Release a part held for review by the ban check."),
    "comment": ("coursekit.commands.comment", "Attach a TA comment to a submission."),
    "extend": ("coursekit.commands.extend", "Grant a student an extension."),
    "export": ("coursekit.commands.export", "Export the gradebook (CSV or Canvas import CSV)."),
    "review": ("coursekit.commands.review", "Serve the dashboard: notebooks, rubric grading, overrides, comments."),
    "release-feedback": ("coursekit.commands.release_feedback", "Let students see their written-answer grades."),
    "submit": ("coursekit.commands.submit", "Student: check a notebook in a fresh kernel and package it."),
    "status": ("coursekit.commands.status", "Student: progress per milestone."),
    "package": ("coursekit.commands.package", "Package an autograder (e.g. for Gradescope)."),
    "image": ("coursekit.commands.image", "Build the autograder container images."),
    "gather": ("coursekit.commands.gather", "Merge a cluster run's shards into one results folder."),
    "secret": ("coursekit.commands.secret", "Create the course secret that seeds hidden test inputs."),
    "doctor": ("coursekit.commands.doctor", "Check what this host gives the grading sandbox and how to fix what is missing."),
    "mutate": ("coursekit.commands.mutate", "Measure a hidden suite: grade generated mutants, kill rate per part."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(VERBS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in VERBS:
            return None
        module_name, short_help = VERBS[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise

            @click.command(name=name, help=short_help + " (not installed in this build)")
            def missing() -> None:
                raise click.ClickException(f"`course {name}` is not available in this build of the kit")

            return missing
        command = module.command
        command.short_help = command.short_help or short_help
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zero-to-llm-kit", prog_name="course", message="%(prog)s %(version)s")
@click.option("--course", "course_file", default="course.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The course file; paths in it are relative to its folder.")
@click.pass_context
def cli(ctx: click.Context, course_file: str) -> None:
    """Zero to LLM course kit."""
    ctx.obj = {"course_file": course_file}


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
