"""``samx-trainer launch``: the launcher by hand and as the chart's trainer-launcher Deployment runs it.

samx-trainer launch consume [--profile P]                  the consumer with the configured backend
samx-trainer launch phase1 --run-id R [--profile P] [--n-clusters K]   submit one phase-1 job
samx-trainer launch phase2 --run-id R --labelset-version V [--profile P]   submit one phase-2 job
samx-trainer launch status NAME                            a job's state (JSON)

``SAMX_LAUNCHER_BACKEND`` picks the backend (kuberay in the chart); a second submit of a run finds its
job and says so (exit 0)."""

from __future__ import annotations

import argparse
import json

from samx_trainer.launch.names import RUN_ID, JobRequest


def add_parser(sub: argparse._SubParsersAction) -> None:
    launch = sub.add_parser("launch", help="submit training jobs (Ray job / KubeRay RayJob) or run the launcher")
    commands = launch.add_subparsers(dest="launch_command", required=True)
    co = commands.add_parser("consume", help="a job per phase1.requested / labels.published event")
    co.add_argument("--profile", default="ci", help="phase 2's profile (kuberay: the template's)")
    for phase in ("phase1", "phase2"):
        p = commands.add_parser(phase, help=f"submit one {phase} job")
        p.add_argument("--run-id", required=True, type=_run_id)
        p.add_argument("--profile", default="ci", help="ci | dev | gpu (kuberay: the template's)")
        if phase == "phase2":
            p.add_argument("--labelset-version", type=int, required=True)
        else:
            p.add_argument("--n-clusters", type=int, default=None)
    st = commands.add_parser("status", help="a job's state by name")
    st.add_argument("name")


def _run_id(value: str) -> str:
    if not RUN_ID.fullmatch(value):
        raise argparse.ArgumentTypeError("a run id is letters, digits, '_', '.', '-' (at most 64)")
    return value


def main(args: argparse.Namespace, settings) -> int:
    if args.launch_command == "consume":
        from samx_trainer.consumer import run_consumer

        run_consumer(settings, args.profile)
        return 0
    from samx_trainer.launch.factory import make_launcher

    launcher = make_launcher(settings, settings.launcher)
    if args.launch_command == "status":
        status = launcher.status(args.name)
        print(json.dumps({"name": args.name, "state": status.state.value, "reason_type": status.reason_type}))
        return 0
    request = JobRequest(
        args.launch_command,
        args.run_id,
        getattr(args, "labelset_version", None),
        profile=args.profile,
        n_clusters=getattr(args, "n_clusters", None),
    )
    submitted = launcher.submit(request)
    note = "submitted" if submitted.created else "exists already: nothing to do"
    print(f"{launcher.backend} job {submitted.name}: {note}", flush=True)
    return 0
