"""De-identification on ingest: DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile
(code 113100), with the Retain Longitudinal Temporal Information with Modified Dates option (113107).

Two parts, so that each does what it is good at:
- `dicognito <https://github.com/blairconrad/dicognito>`_ pseudonymizes what must stay *consistent*:
  every UID (so study/series/instance structure survives), patient and other IDs (so one patient's
  radiographs still group together, which the patient-wise train/test split needs), person names,
  addresses, institution and station names, and shifts every date by one offset (intervals survive).
  Its values come from a keyed hash: the seed is derived from a secret in the settings, so the same
  input always maps to the same pseudonym, and nobody without the secret can recompute the mapping.
- The profile's remaining attributes (free text, descriptions, comments, patient characteristics,
  request and performer sequences, private tags, overlays) are removed or emptied here, from the table
  below (Table E.1-1, the attributes whose Basic Profile action is X, Z or X/Z).

Why dicognito rather than pydicom/deid: deid's default recipe is mostly pixel-region filters for CT
scanners, it needs a recipe file and matplotlib, and its header actions are not consistent pseudonyms
out of the box; dicognito is small (pydicom only), typed, and built around consistent pseudonyms.

Only the header is touched. Burned-in text in the pixels cannot be found here: an object that says it
has some (BurnedInAnnotation YES) is rejected or flagged by the ingest policy before it gets this far."""

from __future__ import annotations

import hashlib
import hmac
import io
from dataclasses import dataclass

import pydicom
from dicognito import __version__ as dicognito_version
from dicognito.anonymizer import Anonymizer
from pydicom import uid, valuerep
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

PROFILE_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
)
# LO: 64 characters at most; the code sequence says the rest.
METHOD = f"SAM-X: PS3.15 Basic Profile, keyed pseudonyms (dicognito {dicognito_version})"

# Basic Profile attributes with action X (remove), in addition to what dicognito replaces. Free text
# ends up here because the profile cannot know what a technologist typed into it.
REMOVED = tuple(
    (
        "AcquisitionComments AcquisitionContextSequence AcquisitionDeviceProcessingDescription "
        "AcquisitionProtocolDescription ActualHumanPerformersSequence AdditionalPatientHistory AdmissionID "
        "AdmittingDiagnosesCodeSequence AdmittingDiagnosesDescription Allergies AuthorObserverSequence "
        "BranchOfService CassetteID CommentsOnThePerformedProcedureStep "
        "ConfidentialityConstraintOnPatientDataDescription ContributionDescription CustodialOrganizationSequence "
        "DerivationDescription DetectorID DeviceSerialNumber DigitalSignaturesSequence "
        "DischargeDiagnosisDescription DistributionAddress DistributionName EthnicGroup FrameComments GantryID "
        "GeneratorID HumanPerformerOrganization IconImageSequence IdentifyingComments ImageComments "
        "ImagePresentationComments ImagingServiceRequestComments Impressions InstitutionCodeSequence "
        "InsurancePlanIdentification IntendedRecipientsOfResultsIdentificationSequence "
        "InterpretationApproverSequence InterpretationDiagnosisDescription InterpretationText IssuerOfAdmissionID "
        "IssuerOfPatientID IssuerOfServiceEpisodeID MedicalAlerts MedicalRecordLocator MilitaryRank "
        "ModifiedImageDescription ModifyingDeviceID NamesOfIntendedRecipientsOfResults Occupation "
        "OperatorIdentificationSequence OriginalAttributesSequence OrderCallbackPhoneNumber OrderEntererLocation "
        "OtherPatientIDsSequence ParticipantSequence PatientAge PatientComments PatientInsurancePlanCodeSequence "
        "PatientPrimaryLanguageCodeSequence PatientPrimaryLanguageModifierCodeSequence PatientReligiousPreference "
        "PatientSexNeutered PatientSize PatientState PatientTelephoneNumbers PatientTelecomInformation "
        "PatientWeight PerformedLocation PerformedProcedureStepDescription PerformedStationAETitle "
        "PerformedStationGeographicLocationCodeSequence PerformedStationNameCodeSequence "
        "PerformingPhysicianIdentificationSequence PersonAddress PersonIdentificationCodeSequence "
        "PersonTelephoneNumbers PhysiciansOfRecordIdentificationSequence "
        "PhysiciansReadingStudyIdentificationSequence PreMedication PregnancyStatus ProtocolName "
        "ReasonForTheImagingServiceRequest ReasonForTheRequestedProcedure ReasonForStudy "
        "ReferencedPatientAliasSequence "
        "ReferencedPatientPhotoSequence ReferencedPatientSequence ReferringPhysicianAddress "
        "ReferringPhysicianIdentificationSequence ReferringPhysicianTelephoneNumbers RequestAttributesSequence "
        "RequestedContrastAgent RequestedProcedureComments RequestedProcedureDescription "
        "RequestedProcedureLocation ResponsibleOrganization ResultsComments ResultsDistributionListSequence "
        "ResultsIDIssuer ScheduledHumanPerformersSequence ScheduledPatientInstitutionResidence "
        "ScheduledPerformingPhysicianIdentificationSequence ScheduledProcedureStepDescription SeriesDescription "
        "ServiceEpisodeDescription ServiceEpisodeID SmokingStatus SpecialNeeds StudyComments StudyDescription "
        "StudyIDIssuer TextComments TextString TopicAuthor TopicKeywords TopicSubject TopicTitle "
        "VerifyingObserverIdentificationCodeSequence VerifyingObserverSequence VerifyingOrganization VisitComments"
    ).split()
)
# Action Z (present, empty) for Type 2 attributes the IODs require; pseudonyms would carry nothing useful.
# PatientName too: its pseudonym would only look like a name; PatientID carries the grouping.
EMPTIED = ("PatientName", "PatientBirthDate", "PatientBirthTime", "PatientSex")
# What the ingested event and record carry of the new header (RadiographTags field -> DICOM keyword).
_IDENTIFIERS = {
    "sop_instance_uid": "SOPInstanceUID",
    "study_instance_uid": "StudyInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
    "patient_id": "PatientID",
}
_OVERLAY_GROUPS = range(0x6000, 0x6020, 2)  # overlay planes can carry text: removed with their comments


class DeidentificationFailed(Exception):
    """The header could not be de-identified (a value dicognito cannot parse); the input is rejected."""


@dataclass(frozen=True)
class Deidentified:
    data: bytes  # the de-identified file, pixel data byte for byte as sent
    burned_in_annotation: bool | None
    tags_update: dict[str, object]  # the RadiographTags fields the profile changed, with their new values


def burned_in_annotation(ds: Dataset) -> bool | None:
    value = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    return {"YES": True, "NO": False}.get(value)


class Deidentifier:
    """Applies the profile to one DICOM file's bytes; the same secret always yields the same pseudonyms."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the de-identification secret must have at least 16 bytes")
        # dicognito hashes seed + value; an HMAC of a fixed label keeps the raw secret out of its hands.
        seed = hmac.new(secret, b"samx-deidentify-v1", hashlib.sha256).hexdigest()
        self._seed = seed

    def __call__(self, data: bytes) -> Deidentified:
        try:
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
            _ensure_file_meta(ds)
            burned_in = burned_in_annotation(ds)
            self._apply(ds, burned_in)
            out = io.BytesIO()
            ds.save_as(out, enforce_file_format=True)
        except Exception as exc:  # the detail must not quote header values
            raise DeidentificationFailed(f"the header could not be de-identified ({type(exc).__name__})") from None
        update: dict[str, object] = {field: str(ds.get(k) or "").strip() or None for field, k in _IDENTIFIERS.items()}
        update |= {"patient_identity_removed": not burned_in, "has_patient_name": False}
        return Deidentified(out.getvalue(), burned_in, update)

    def _apply(self, ds: Dataset, burned_in: bool | None) -> None:
        ds.remove_private_tags()
        for group in _OVERLAY_GROUPS:
            for tag in [t for t in ds.keys() if t.group == group]:
                del ds[tag]
        # A new Anonymizer per file: its caches are per instance and the seed makes results identical.
        try:
            Anonymizer(seed=self._seed).anonymize(ds)
        except ValueError:
            # A malformed date or time (real archives have them) cannot be shifted: removing it is what
            # the profile allows for any date, so drop the unreadable ones and apply the profile again.
            _drop_unreadable_dates(ds)
            Anonymizer(seed=self._seed).anonymize(ds)
        _strip(ds)
        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            for keyword in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle"):
                if keyword in meta:
                    delattr(meta, keyword)
        # The header is clean now; pixels with burned-in text (flagged by policy) keep the claim honest.
        ds.PatientIdentityRemoved = "NO" if burned_in else "YES"
        ds.DeidentificationMethod = METHOD
        ds.DeidentificationMethodCodeSequence = Sequence([_code(value, meaning) for value, meaning in PROFILE_CODES])


def _strip(ds: Dataset) -> None:
    """Removes the X attributes and empties the Z ones, in nested sequences too."""
    for keyword in REMOVED:
        if keyword in ds:
            delattr(ds, keyword)
    for keyword in EMPTIED:
        if keyword in ds:
            ds[keyword].value = ""
    for element in ds:
        if element.VR == "SQ":
            for item in element.value:
                _strip(item)


def _ensure_file_meta(ds: Dataset) -> None:
    """A bare data set (no Part 10 header, which ingest accepts) gets one, so it is stored as Part 10."""
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = ds.original_encoding
    syntax = {
        (True, True): uid.ImplicitVRLittleEndian,
        (False, True): uid.ExplicitVRLittleEndian,
        (False, False): uid.ExplicitVRBigEndian,
    }.get((bool(implicit), bool(little)), uid.ExplicitVRLittleEndian)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = ds.get("SOPClassUID", uid.SecondaryCaptureImageStorage)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID", uid.generate_uid())


def _drop_unreadable_dates(ds: Dataset) -> None:
    parsers = {"DA": valuerep.DA, "DT": valuerep.DT, "TM": valuerep.TM}
    for element in list(ds):
        if element.VR == "SQ":
            for item in element.value:
                _drop_unreadable_dates(item)
        elif element.VR in parsers and element.value:
            values = element.value if isinstance(element.value, list | tuple) else [element.value]
            try:
                [parsers[element.VR](str(v)) for v in values]
            except ValueError:
                del ds[element.tag]


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item
