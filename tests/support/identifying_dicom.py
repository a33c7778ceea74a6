"""A real CR radiograph (pydicom-data's RG1) whose header carries a value in every attribute the DICOM
PS3.15 Basic Application Level Confidentiality Profile names, plus a private tag and an overlay comment,
as a hospital's PACS export could. Each planted value is distinctive, so that a test can grep any output
(object store, Kafka, logs, spans, metrics) for all of them.

All values are invented: no real person is behind any of them."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from tests.support.pydicom_data import pydicom_data_dir

# What dicognito pseudonymizes (names, IDs, addresses, institution, dates); the rest of the profile's
# table is in samx_ingest.deidentify.REMOVED / EMPTIED.
PSEUDONYMIZED = (
    "PatientName PatientID OtherPatientIDs OtherPatientNames PatientBirthName PatientMotherBirthName "
    "ReferringPhysicianName PerformingPhysicianName NameOfPhysiciansReadingStudy OperatorsName "
    "PhysiciansOfRecord RequestingPhysician ResponsiblePerson ContentCreatorName VerifyingObserverName "
    "HumanPerformerName ScheduledPerformingPhysicianName AccessionNumber StudyID StationName "
    "PerformedProcedureStepID RequestedProcedureID ScheduledProcedureStepID "
    "PlacerOrderNumberImagingServiceRequest FillerOrderNumberImagingServiceRequest InstitutionName "
    "InstitutionAddress InstitutionalDepartmentName PatientAddress RegionOfResidence CountryOfResidence "
    "StudyDate SeriesDate AcquisitionDate ContentDate StudyTime SeriesTime AcquisitionTime ContentTime "
    "AcquisitionDateTime PerformedProcedureStepStartDate RequestingService CurrentPatientLocation"
).split()
_SKIPPED_VRS = {"SQ", "UI", "OB", "OW", "UN", "US", "SS", "UL", "SL", "FL", "FD", "AT"}


@dataclass(frozen=True)
class IdentifyingDicom:
    data: bytes
    planted: dict[str, str]  # keyword (or "private"/"overlay") -> the value written there
    patient_id: str


def _value(vr: str, i: int) -> str:
    by_vr = {
        "PN": f"Plantedname{i:03d}^Person",
        "DA": f"1961{1 + i % 12:02d}{1 + i % 27:02d}",
        "TM": f"{i % 24:02d}{(i * 7) % 60:02d}{(i * 13) % 60:02d}",
        "DT": f"1961{1 + i % 12:02d}{1 + i % 27:02d}{i % 24:02d}{(i * 7) % 60:02d}{(i * 13) % 60:02d}",
        "AS": f"{(i % 90) + 5:03d}Y",
        "DS": f"{187 + i}.25",
        "IS": f"{918000 + i}",
        "CS": f"PLANTED{i:03d}",
        "AE": f"PLANTAE{i:03d}",
    }
    return by_vr.get(vr, f"PLANTED-{i:03d}")


def identifying_dicom(
    keywords: list[str], *, patient_id: str = "MRN-20261201-4711", seed: str = "a"
) -> IdentifyingDicom:
    """RG1 with ``keywords`` (plus every pseudonymized one) set to planted values; the same ``seed``
    gives the same instance UIDs, so two calls make one patient's two exports when wanted."""
    ds = pydicom.dcmread(pydicom_data_dir() / "RG1_UNCR.dcm")
    uid = generate_uid(entropy_srcs=["samx-identifying", seed])
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["samx-identifying-study", seed])
    if "PatientIdentityRemoved" in ds:
        del ds.PatientIdentityRemoved
    ds.BurnedInAnnotation = "NO"
    planted: dict[str, str] = {}
    for i, keyword in enumerate(dict.fromkeys([*PSEUDONYMIZED, *keywords])):
        vr = dictionary_VR(tag_for_keyword(keyword))
        if vr == "SQ":
            item = Dataset()
            item.PersonName = planted[f"{keyword}.PersonName"] = f"Seqperson{i:03d}^Planted"
            item.CodeMeaning = planted[f"{keyword}.CodeMeaning"] = f"PLANTED-SEQ-{i:03d}"
            setattr(ds, keyword, Sequence([item]))
        elif vr.split(" or ")[0] not in _SKIPPED_VRS:
            value = _value(vr.split(" or ")[0], i)
            setattr(ds, keyword, value)
            planted[keyword] = value
    ds.PatientID = planted["PatientID"] = patient_id
    block = ds.private_block(0x0009, "SAMX PLANTED", create=True)
    block.add_new(0x01, "LO", "PLANTED-PRIVATE-NOTE")
    planted["private"] = "PLANTED-PRIVATE-NOTE"
    ds.add_new(0x60004000, "LT", "PLANTED-OVERLAY-COMMENT")
    planted["overlay"] = "PLANTED-OVERLAY-COMMENT"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return IdentifyingDicom(out.getvalue(), planted, patient_id)
