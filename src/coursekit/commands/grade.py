"""``course grade <id> SUBMISSION... [--out DIR] [--jobs N] [--device auto|cpu|cuda]``."""

from __future__ import annotations

from pathlib import Path

import click

from coursekit.config import CourseConfigError
from coursekit.grading.api import GraderError


@click.command(name="grade")
@click.argument("milestone_id")
@click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/grades"), show_default=True,
              help="Results folder: <student>/results.json, feedback, summary.json, gradebook.csv.")
@click.option("--jobs", type=int, default=None, help="Submissions graded in parallel (default: CPU cores); with --backend k8s, pods (default 4).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--times", "times_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV student,submitted_at (ISO 8601) for late penalties.")
@click.option("--backend", type=click.Choice(["local", "k8s"]), default="local", show_default=True,
              help="local: this machine. k8s: a Kubernetes Indexed Job (see infra/README.md).")
@click.option("--dry-run", is_flag=True, help="With --backend k8s: print the manifests, apply nothing.")
@click.option("--image", default=None, help="With --backend k8s: the autograder image.")
@click.option("--namespace", default="grading", show_default=True, help="With --backend k8s.")
@click.option("--image-pull-secret", default=None, help="With --backend k8s: secret for a private registry.")
@click.option("--storage-class", default=None, help="With --backend k8s: StorageClass of the shared volume (RWX).")
@click.option("--ephemeral-storage", default=None, help="With --backend k8s: node disk per pod, e.g. 10Gi.")
@click.pass_context
def command(ctx: click.Context, milestone_id: str, submissions: tuple[Path, ...], out_dir: Path, jobs: int | None,
            device: str, times_csv: Path | None, backend: str, dry_run: bool, image: str | None,
            namespace: str, image_pull_secret: str | None, storage_class: str | None,
            ephemeral_storage: str | None) -> None:
    """Grade SUBMISSIONS (.ipynb, .zip, or one folder per student) with the milestone's hidden suite.

    Exits 0 when the batch completed, even if submissions failed; non-zero only when the grader
    itself could not run.
    """
    course_file = Path(ctx.obj["course_file"])
    try:
        if backend == "k8s":
            from coursekit.grading.batch import read_times
            from coursekit.grading.lateness import remote_times
            from coursekit.infra.k8s import grade_on_k8s

            # pods have no gradebook store: unchanged files keep their stored times through --times
            times, unknown = remote_times(out_dir, list(submissions), read_times(times_csv))
            if unknown:
                click.echo(f"warning: no submission time for the changed file of {', '.join(unknown)}: their "
                           "lateness is unknown (0); pass --times with their times", err=True)
            # --device and --times reach the pods (ConfigMap + the shard command), as a local run uses them.
            click.echo(grade_on_k8s(course_file=course_file, milestone_id=milestone_id, submissions=list(submissions),
                                    out=out_dir, shards=jobs or 4, dry_run=dry_run, image=image, namespace=namespace,
                                    device=device, times=times, pull_secret=image_pull_secret,
                                    storage_class=storage_class, ephemeral_storage=ephemeral_storage))
            return
        from coursekit.grading.batch import grade_batch

        grade_batch(course_file=course_file, milestone_id=milestone_id, submissions=list(submissions),
                    out_dir=out_dir, jobs=jobs, device=device, times_csv=times_csv)
    except (GraderError, CourseConfigError) as exc:
        raise click.ClickException(str(exc)) from None
