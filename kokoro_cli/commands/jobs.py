"""``jobs``: list, show and remove conversion jobs in the work area."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from kokoro_cli.commands.options import WorkDirOpt
from kokoro_cli.console import err, out, run_guarded
from kokoro_cli.errors import UsageError

__all__ = ["jobs_app"]

jobs_app = typer.Typer(no_args_is_help=True, help="List, show and remove conversion jobs in the "
                       "work area.")


def _work_root(work_dir: Optional[Path]) -> Path:
    from kokoro_cli.jobs.job import default_work_root

    return work_dir or default_work_root()


@jobs_app.command("list")
def jobs_list(as_json: bool = typer.Option(False, "--json", help="Print JSON."),
              work_dir: Optional[Path] = WorkDirOpt) -> None:
    """Show jobs with their state (done, partial, empty, unreadable), chapters and size."""
    def action() -> None:
        from kokoro_cli.jobs.job import list_jobs

        rows = list_jobs(_work_root(work_dir))
        if as_json:
            out.print_json(json.dumps([{"key": j.key, "path": str(j.path), "input": j.label,
                                        "state": j.state, "chapters_done": j.chapters_done,
                                        "bytes": j.size_bytes, "updated": j.updated} for j in rows]))
            return
        for j in rows:
            out.print(f"{j.key}  {j.state:<10} {j.chapters_done:>4} ch  {j.size_bytes / 1e6:8.1f} MB  "
                      f"{j.label}", markup=False)
    run_guarded(action)


@jobs_app.command("show")
def jobs_show(key: str = typer.Argument(..., help="Job key (as 'jobs list' shows)."),
              as_json: bool = typer.Option(False, "--json", help="Print JSON."),
              work_dir: Optional[Path] = WorkDirOpt) -> None:
    """Show one job: its state and, when it ran with --verify, the listening check."""
    def action() -> None:
        from kokoro_cli.jobs.job import list_jobs
        from kokoro_cli.jobs.verify import stored_report

        found = [j for j in list_jobs(_work_root(work_dir)) if j.key == key]
        if not found:
            raise UsageError(f"no such job: {key}")
        j = found[0]
        report = stored_report(j.path)
        if as_json:
            out.print_json(json.dumps({
                "key": j.key, "path": str(j.path), "input": j.label, "state": j.state,
                "chapters_done": j.chapters_done,
                "verification": report.to_dict() if report is not None else None}))
            return
        out.print(f"{j.key}  {j.state}  {j.chapters_done} chapters  {j.label}", markup=False)
        out.print(report.summary() if report is not None else "no listening check (run "
                  "convert --verify)", markup=False)
    run_guarded(action)


@jobs_app.command("remove")
def jobs_remove(keys: list[str] = typer.Argument(None, help="Job keys (as 'jobs list' shows)."),
                finished: bool = typer.Option(False, "--finished", help="Every job whose output "
                                              "was written."),
                all_jobs: bool = typer.Option(False, "--all", help="Every job (not the piece "
                                              "cache)."),
                work_dir: Optional[Path] = WorkDirOpt) -> None:
    """Remove jobs (their chapter audio and state); a job in use is left alone."""
    def action() -> None:
        from kokoro_cli.jobs.job import list_jobs, remove_job

        rows = list_jobs(_work_root(work_dir))
        unknown = set(keys or ()) - {j.key for j in rows}
        if unknown:
            raise UsageError(f"no such job: {', '.join(sorted(unknown))}")
        chosen = [j for j in rows
                  if all_jobs or j.key in (keys or ()) or (finished and j.state == "done")]
        for j in chosen:
            remove_job(j)
            err.print(f"removed {j.key} ({j.label})", markup=False)
    run_guarded(action)
