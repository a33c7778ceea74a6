"""DICOM C-STORE receiver: a PACS or a modality pushes radiographs straight to SAM-X.

Each received instance becomes a claim check in the incoming bucket and a ``radiograph.received``
event; the association is answered with success only once the broker has the event, so a PACS that
deletes after a successful C-STORE loses nothing. Validation happens in the ingest worker as for any
other input; this process stays a thin, fast gateway."""

from __future__ import annotations

import logging
import signal
import threading

from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]  # pynetdicom makes these names at import
from samx_core.bus import EventPublisher, ensure_topics
from samx_core.events import RadiographReceived
from samx_core.intake import RadiographSender
from samx_core.storage import ObjectStore
from samx_core.telemetry import bootstrap_telemetry

from samx_ingest.settings import IngestSettings
from samx_ingest.worker import quiet_dicom_warnings

log = logging.getLogger(__name__)

#: Radiographs arrive uncompressed or in the compressed syntaxes PACS use; accept them all here and
#: let the worker decide (an undecodable one is quarantined with a reason, not refused on the wire).
TRANSFER_SYNTAXES = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
]

STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700


def build_ae(sender: RadiographSender, ae_title: str) -> tuple[AE, list]:
    ae = AE(ae_title=ae_title)
    for context in StoragePresentationContexts:
        assert context.abstract_syntax is not None  # each of pynetdicom's storage contexts names its SOP class
        ae.add_supported_context(context.abstract_syntax, TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    ae.maximum_pdu_size = 0  # no limit: radiographs are large

    def on_store(event) -> int:
        try:
            data = event.encoded_dataset(include_meta=True)
            sender.send(data, content_type="application/dicom", wait=True)
            return STATUS_SUCCESS
        except Exception:  # the SCU retries on a failure status; never crash the association thread
            log.exception("could not hand a C-STORE instance to the bus")
            return STATUS_OUT_OF_RESOURCES

    return ae, [(evt.EVT_C_STORE, on_store)]


def run_cstore(settings: IngestSettings) -> None:
    quiet_dicom_warnings()
    bootstrap_telemetry("samx-cstore", settings.telemetry)
    store = ObjectStore(settings.s3)
    store.ensure_buckets(settings.s3.incoming_bucket)
    ensure_topics(settings.kafka, [RadiographReceived.TOPIC])
    publisher = EventPublisher(settings.kafka)
    sender = RadiographSender(
        store, publisher, incoming_bucket=settings.s3.incoming_bucket, site_id=settings.cstore_site_id, sent_by="cstore"
    )
    ae, handlers = build_ae(sender, settings.cstore_ae_title)
    server = ae.start_server((settings.cstore_host, settings.cstore_port), block=False, evt_handlers=handlers)
    assert server is not None  # non-blocking: the running server
    log.info(
        "C-STORE receiver %s listening on %s:%s",
        settings.cstore_ae_title,
        settings.cstore_host,
        server.server_address[1],
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    publisher.flush()
    publisher.close()
