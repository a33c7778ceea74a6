"""The one exception the pixel side of ingest raises for a bad input.

Its ``detail`` ends up in a rejection event, in quarantine metadata and in logs, all of which are read
by people who must not see patient data. So details are fixed sentences written here, never the text
of a library exception (pydicom and Pillow messages can quote header values or file names)."""

from __future__ import annotations

from samx_core.radiograph import RejectReason


class RadiographRejected(Exception):
    """An input that cannot become a radiograph, with a stable reason code and a patient-free detail."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


# The ingest service names it this way, beside the event of the same name it publishes.
InputRejected = RadiographRejected
