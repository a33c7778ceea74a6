"""The serving deployment: FastAPI routes and the batched, hot-swappable model in one Serve replica.

One deployment, not an ingress calling a model deployment by handle: on the way to the network a
request then crosses Serve's HTTP proxy only, and the replica's concurrent requests fill its
``@serve.batch`` queue directly (batched_model.py). Decoding (CPU bound, per request) runs in threads
of the replica beside the forward passes; the model squares the pixels itself because the square's
size belongs to the version it serves (a new version may load at a different size). Replicas scale
(and autoscale) as a whole, each with its own copy of the model. Every /v1 route asks for a bearer
token (access.py); the probes do not."""

# No ``from __future__ import annotations`` here: FastAPI must see the route parameters' real types
# (Request, Query) through Serve's class-based ingress wrapper.
import asyncio
import base64
import binascii
import functools

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from ray import serve
from samx_core.archive import RadiographRecord, derivative_key, radiograph_record_key
from samx_core.asgi import RequestMetrics
from samx_core.auth import Role
from samx_core.reachability import object_store_reachable
from samx_core.storage import ObjectMissingError, ObjectStore
from samx_ml.bundle import ModelManifest

from samx_serving.access import Unauthorized, require, unauthorized_response
from samx_serving.api_models import (
    ArchivedRadiograph,
    BatchItemResult,
    BatchRequest,
    BatchResponse,
    Classification,
    Explanation,
    ImageRef,
    IndexPage,
    Problem,
)
from samx_serving.batched_model import BatchedModel, ModelArgs
from samx_serving.dependencies import (
    DependencyUnavailable,
    dependency_unavailable_response,
    from_model,
    from_object_store,
    model_refusal,
    problem_response,
    readiness,
)
from samx_serving.flags import probabilities, score
from samx_serving.index import SortedIndex
from samx_serving.ingress_args import IngressArgs
from samx_serving.middleware import SecurityHeaders, ServingMetrics
from samx_serving.overlay import normalised, npy_base64, overlay_on_radiograph
from samx_serving.preprocess import InputError, RadiographInput, decode_derivative, decode_request

app = FastAPI(title="SAM-X serving", version="1", description="Anatomical region of musculoskeletal radiographs")
app.add_exception_handler(Unauthorized, unauthorized_response)
app.add_exception_handler(DependencyUnavailable, dependency_unavailable_response)
app.state.metrics = ServingMetrics()  # one per process: each replica counts its own requests
app.add_middleware(RequestMetrics, requests=app.state.metrics.requests, latency=app.state.metrics.latency)
app.add_middleware(SecurityHeaders)
# Any known token may classify, explain and read the model and the index (every role is viewer or above).
VIEWER = [Depends(require(Role.viewer))]


@app.exception_handler(InputError)
async def _input_error(_request: Request, exc: InputError) -> JSONResponse:
    return problem_response(exc)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InputError(413, "too_large", f"the body is over the {limit} byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(413, "too_large", f"the body is over the {limit} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


@serve.deployment(ray_actor_options={"num_cpus": 1}, max_ongoing_requests=256)
@serve.ingress(app)
class ModelServer:
    def __init__(self, model: ModelArgs, args: IngressArgs) -> None:
        self._model, self._args = BatchedModel(model), args
        self.tokens = args.tokens if args.auth_required else None  # read by access.require
        self._store = ObjectStore(args.s3, timeout_s=args.object_store_timeout_s)
        self._index = SortedIndex(self._store, args.s3.archive_bucket)

    # -- what Serve and the deploying process call (not routes) -----------------------------------------
    async def reconfigure(self, config: dict) -> None:
        """The user_config ``{"version": ...}``: the hot swap (batched_model.py)."""
        await self._model.reconfigure(config)

    def manifest(self) -> dict | None:
        """The served version's manifest, for a handle (app.wait_until_serving)."""
        return self._model.manifest()

    # -- dependencies, each call bounded (dependencies.py) ----------------------------------------------
    async def _stored(self, call, *args):
        return await from_object_store(call, *args, timeout_s=self._args.object_store_timeout_s)

    # -- inputs ---------------------------------------------------------------------------------------
    async def _archived(self, image_id: str, known: ArchivedRadiograph | None = None) -> RadiographInput:
        """An ingested radiograph's derivative: where the caller's event says (checked to be this image's
        own derivative), else where the image's record says (one more read)."""
        bucket = self._args.s3.archive_bucket
        if known is not None:
            if (known.derivative.bucket, known.derivative.key) != (bucket, derivative_key(image_id)):
                raise InputError(422, "foreign_object", "archived.derivative is not this image's derivative")
            where, body_part = known.derivative, known.body_part_examined
        else:
            found = await self._stored(self._store.get_json_or_none, bucket, radiograph_record_key(image_id))
            if found is None:
                raise InputError(404, "unknown_image", "no ingested radiograph has this image id")
            record = RadiographRecord.model_validate(found)
            where, body_part = record.derivative, record.tags.body_part_examined
        try:
            png = await self._stored(self._store.get_bytes, where.bucket, where.key)
        except ObjectMissingError:
            raise InputError(404, "object_missing", "the radiograph's derivative is not in the archive") from None
        return await asyncio.to_thread(decode_derivative, png, body_part)

    async def _from_bytes(self, data: bytes) -> RadiographInput:
        a = self._args
        return await asyncio.to_thread(
            decode_request,
            data,
            max_bytes=a.max_body_bytes,
            allowed_modalities=a.allowed_modalities,
            min_side_px=a.min_side_px,
        )

    async def _input(self, request: Request) -> tuple[RadiographInput, ImageRef | None]:
        """A raw file, or JSON naming an ingested image."""
        body = await _read_body(request, self._args.max_body_bytes)
        if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
            try:
                ref = ImageRef.model_validate_json(body)
            except ValidationError as exc:
                detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise InputError(422, "invalid_request", detail) from None
            return await self._archived(ref.image_id, ref.archived), ref
        return await self._from_bytes(body), None

    # -- the model --------------------------------------------------------------------------------------
    async def _classify(self, radiograph: RadiographInput, image_id: str | None) -> Classification:
        try:
            manifest, logits = await from_model(
                self._model.classify(radiograph.pixels), timeout_s=self._args.model_timeout_s
            )
        except Exception as exc:
            raise model_refusal(exc) from None
        scored = self._score(manifest, logits, radiograph)
        return Classification(
            image_id=image_id,
            model_version=manifest.version,
            top=scored.top,
            flags=scored.flags,
            ood_score=scored.ood_score,
        )

    def _score(self, manifest: ModelManifest, logits, radiograph: RadiographInput):
        a = self._args
        return score(
            logits,
            manifest,
            top_k=a.top_k,
            body_part=radiograph.body_part_examined,
            ood_min_max_probability=a.ood_min_max_probability,
            ood_min_logsumexp=a.ood_min_logsumexp,
        )

    # -- routes -----------------------------------------------------------------------------------------
    @app.post("/v1/classify", response_model=Classification, dependencies=VIEWER)
    async def classify(self, request: Request) -> Classification:
        radiograph, ref = await self._input(request)
        return await self._classify(radiograph, ref.image_id if ref else None)

    @app.post("/v1/classify/batch", response_model=BatchResponse, dependencies=VIEWER)
    async def classify_batch(self, request: Request) -> BatchResponse:
        body = await _read_body(request, self._args.max_body_bytes)
        try:
            batch = BatchRequest.model_validate_json(body)
        except ValidationError as exc:
            raise InputError(422, "invalid_request", f"{exc.error_count()} error(s) in the batch body") from None
        if len(batch.images) > self._args.max_batch_images:
            raise InputError(413, "too_many_images", f"at most {self._args.max_batch_images} images per batch")
        results = await asyncio.gather(*(self._batch_item(i, item) for i, item in enumerate(batch.images)))
        return BatchResponse(results=list(results))

    async def _batch_item(self, index: int, item) -> BatchItemResult:
        try:
            if (item.image_id is None) == (item.data_base64 is None):
                raise InputError(422, "invalid_request", "give exactly one of image_id and data_base64")
            if item.image_id is not None:
                radiograph = await self._archived(item.image_id)
            else:
                try:
                    data = base64.b64decode(item.data_base64, validate=True)
                except (binascii.Error, ValueError):
                    raise InputError(422, "invalid_request", "data_base64 is not base64") from None
                radiograph = await self._from_bytes(data)
            return BatchItemResult(index=index, result=await self._classify(radiograph, item.image_id))
        except InputError as err:
            if isinstance(err, DependencyUnavailable):
                app.state.metrics.unavailable.labels(err.dependency).inc()
            return BatchItemResult(index=index, error=Problem(status=err.status, reason=err.reason, detail=err.detail))

    @app.post("/v1/explain", response_model=Explanation, dependencies=VIEWER)
    async def explain(
        self, request: Request, class_name: str | None = None, format: str = Query("json", pattern="^(json|png)$")
    ):
        radiograph, ref = await self._input(request)
        wanted = class_name or (ref.class_name if ref else None)
        if wanted is not None:  # refused before any forward pass, and without a KeyError's traceback in the log
            manifest = self.manifest()
            if manifest is not None and wanted not in manifest["classes"]:
                raise InputError(422, "unknown_class", f"the served model has no class {wanted!r}")
        try:
            # The flags come from the classify path (its one forward pass also gives the OOD score), so an
            # image is flagged alike by /v1/classify and /v1/explain; Grad-CAM's pass gives the map.
            exp, (_, output) = await asyncio.gather(
                from_model(self._model.explain(radiograph.pixels, wanted), timeout_s=self._args.model_timeout_s),
                from_model(self._model.classify(radiograph.pixels), timeout_s=self._args.model_timeout_s),
            )
        except Exception as exc:
            raise model_refusal(exc, explaining=wanted) from None
        png = await asyncio.to_thread(
            overlay_on_radiograph, radiograph.pixels, exp.cam, exp.box, long_side=self._args.cam_long_side_px
        )
        if format == "png":
            return Response(png, media_type="image/png", headers={"X-Model-Version": exp.manifest.version})
        scored = self._score(exp.manifest, output, radiograph)
        name = exp.manifest.classes[exp.class_index]
        shown, peak = normalised(exp.raw)
        return Explanation(
            model_version=exp.manifest.version,
            class_name=name,
            probability=probabilities(exp.logits)[exp.class_index],
            top=scored.top,
            flags=scored.flags,
            ood_score=scored.ood_score,
            overlay_png_base64=base64.b64encode(png).decode(),
            map=[[round(float(v), 6) for v in row] for row in shown],
            map_peak=peak,
            map_npy_base64=npy_base64(shown),
            target_layer=exp.target_layer,
        )

    @app.get("/v1/model", dependencies=VIEWER)
    async def model(self) -> JSONResponse:
        manifest = self.manifest()
        if manifest is None:
            raise InputError(503, "no_model", "no model version is loaded yet")
        return JSONResponse(manifest)

    @app.get("/v1/index", response_model=IndexPage, dependencies=VIEWER)
    async def index(
        self,
        # The labeling vocabulary's names: 'thoracic spine', 'knee (lateral)', 'a/p'; never '../x'.
        label: str | None = Query(None, pattern=r"^[^\W_][\w '()/.+-]{0,63}$"),
        model_version: str | None = Query(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
        offset: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=1000),
    ) -> IndexPage:
        if model_version is None:
            manifest = self.manifest()
            if manifest is None:
                raise InputError(503, "no_model", "no model version is loaded; pass model_version")
            model_version = manifest["version"]
        counts = await self._stored(self._index.counts, model_version)
        job = await self._stored(self._index.progress, model_version)
        if label is None:
            total = sum(counts.values())
            return IndexPage(
                model_version=model_version, label=None, total=total, offset=0, items=[], counts=counts, job=job
            )
        total, items = await self._stored(
            functools.partial(self._index.by_label, offset=offset, limit=limit), model_version, label
        )
        return IndexPage(
            model_version=model_version, label=label, total=total, offset=offset, items=items, counts=counts, job=job
        )

    @app.get("/healthz")
    async def healthz(self) -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(self) -> JSONResponse:
        """Each dependency's state, 503 when one is not ok: the model (loaded), the object store (for
        radiographs by id and the index; reachable within the timeout). No route uses Kafka."""
        s3 = self._args.s3
        manifest = self.manifest()  # in this process: loaded or not, never unreachable
        store_ok = await asyncio.to_thread(
            object_store_reachable, s3.endpoint, secure=s3.secure, timeout_s=self._args.readiness_timeout_s
        )
        states = {"model": "ok" if manifest else "not loaded", "object_store": "ok" if store_ok else "down"}
        body, status = readiness(states, manifest["version"] if manifest else None)
        return JSONResponse(body, status)

    @app.get("/metrics", include_in_schema=False)  # Prometheus text for the scraper, open like the probes
    async def metrics(self) -> Response:
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


__all__ = ["IngressArgs", "ModelArgs", "ModelServer", "app"]
