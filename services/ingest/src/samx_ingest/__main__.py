"""``samx-ingest worker`` runs a consumer; ``samx-ingest cstore`` runs the DICOM C-STORE receiver."""

from __future__ import annotations

import argparse

from samx_ingest.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="samx-ingest", description=__doc__)
    parser.add_argument("role", choices=["worker", "cstore"])
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.role == "worker":
        from samx_ingest.worker import run_worker

        run_worker(settings)
    else:
        from samx_ingest.cstore import run_cstore

        run_cstore(settings)


if __name__ == "__main__":
    main()
