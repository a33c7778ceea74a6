"""A PACS pushes radiographs over DICOM C-STORE; they come out as ingested radiographs."""

from __future__ import annotations

import io

import pydicom
import pytest
from pynetdicom import AE
from samx_core.bus import EventPublisher
from samx_core.bus.reader import EventReader
from samx_core.events import RadiographIngested
from samx_core.intake import RadiographSender
from samx_core.storage import ObjectStore
from samx_ingest.cstore import build_ae

from tests.support.pydicom_data import pseudonymized_real_crs

pytestmark = pytest.mark.integration


def test_c_store_push_is_ingested(kafka_settings, s3_settings, ingest_workers):
    ingest_workers(1)
    store = ObjectStore(s3_settings)
    store.ensure_buckets(s3_settings.incoming_bucket, s3_settings.archive_bucket)
    publisher = EventPublisher(kafka_settings)
    sender = RadiographSender(
        store, publisher, incoming_bucket=s3_settings.incoming_bucket, site_id="pacs", sent_by="cstore"
    )
    ae, handlers = build_ae(sender, "SAMX")
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    try:
        crs = pseudonymized_real_crs(("RG1_J2KR", "RG3_UNCR"))
        datasets = [pydicom.dcmread(io.BytesIO(data)) for data in crs.values()]
        scu = AE(ae_title="MODALITY")
        for ds in datasets:
            scu.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
        association = scu.associate("127.0.0.1", server.server_address[1], ae_title="SAMX")
        assert association.is_established
        statuses = [association.send_c_store(ds).Status for ds in datasets]
        association.release()
        assert statuses == [0x0000, 0x0000]

        seen = {}
        with EventReader(kafka_settings, [RadiographIngested.TOPIC], from_beginning=True) as reader:
            for event in reader.events(timeout_s=60):
                seen[event.image_id] = event
                if len(seen) == 2:
                    break
        # Both instances arrived, each under its own keyed pseudonym (de-identification on ingest).
        pseudonyms = {e.tags.sop_instance_uid for e in seen.values()}
        assert len(pseudonyms) == 2 and not pseudonyms & {ds.SOPInstanceUID for ds in datasets}
        assert all(e.tags.patient_identity_removed for e in seen.values())
        assert {e.site_id for e in seen.values()} == {"pacs"}
        assert {e.tags.body_part_examined for e in seen.values()} == {"CHEST", "EXTREMITY"}
    finally:
        server.shutdown()
        publisher.close()
