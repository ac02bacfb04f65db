"""`/files` routes: upload, list, retrieve, delete, content, cost estimate."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from mockserver.api.common import backend, caller, content_response, int_param, json_response, uuid_param
from mockserver.api.multipart import receive_upload
from mockserver.errors import BadRequest
from mockserver.render import file_deleted, list_object
from mockserver.store import FileRow


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return int(raw) if raw is not None and raw.isdigit() else None


async def upload_file(request: Request) -> Response:
    user = caller(request)
    sim = backend(request)
    files = sim.files
    with files.upload_slot(sim.faults.scenario.limits.max_concurrent_uploads):
        files.check_declared_size(_declared_length(request))
        upload = files.begin_upload(user.id)
        try:
            await receive_upload(request.stream(), request.headers.get("content-type"), upload)
            row = upload.commit()
        except ClientDisconnect:  # the client went away mid-upload: nothing is stored, nobody to answer
            upload.abort()
            raise BadRequest("Failed to read multipart upload: connection closed") from None
        except BaseException:
            upload.abort()
            raise
    profile = sim.profile
    return json_response(profile.render_file(row, row.bytes, None), status=profile.create_status)



async def list_files(request: Request) -> Response:
    user = caller(request)
    q = request.query_params
    page = backend(request).files.list_files(
        user.id,
        after=q.get("after"),
        limit=int_param(request, "limit"),
        order=q.get("order", "desc"),
        purpose=q.get("purpose"),
        search=q.get("search"),
        member_id=None if backend(request).profile.openai else uuid_param(request, "member_id"),
    )
    files = backend(request).files
    render_file = backend(request).profile.render_file

    def render(row: FileRow) -> dict[str, object]:
        return render_file(row, files.size(row), user.email)

    return json_response(list_object(page.items, page.has_more, render, null_ids=backend(request).profile.openai))


async def get_file(request: Request) -> Response:
    user = caller(request)
    files = backend(request).files
    row = files.get(user.id, request.path_params["file_id"])
    return json_response(backend(request).profile.render_file(row, files.size(row), user.email))


async def delete_file(request: Request) -> Response:
    user = caller(request)
    row = backend(request).files.delete(user.id, request.path_params["file_id"])
    return json_response(file_deleted(row.id))


async def file_content(request: Request) -> Response:
    user = caller(request)
    content = backend(request).files.content(
        user.id,
        request.path_params["file_id"],
        skip=int_param(request, "skip"),
        limit=int_param(request, "limit"),
        search=request.query_params.get("search"),
    )
    return content_response(content)


async def cost_estimate(request: Request) -> Response:
    user = caller(request)
    estimate = backend(request).files.cost_estimate(
        user.id, request.path_params["file_id"], request.query_params.get("completion_window")
    )
    return json_response(estimate)


routes = [
    Route("/files", upload_file, methods=["POST"]),
    Route("/files", list_files, methods=["GET"]),
    Route("/files/{file_id}", get_file, methods=["GET"]),
    Route("/files/{file_id}", delete_file, methods=["DELETE"]),
    Route("/files/{file_id}/content", file_content, methods=["GET"]),
]
extension_routes = [  # Doubleword's own (not served under the OpenAI profile)
    Route("/files/{file_id}/cost-estimate", cost_estimate, methods=["GET"]),
]
