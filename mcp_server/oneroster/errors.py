"""OneRoster failures as the standard's imsx_StatusInfo payload (codeMajor failure, severity error)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tools.runner import ToolCallError

# HTTP status -> imsx code minor, as the binding pairs them.
CODE_MINOR = {
    400: "invaliddata",
    401: "unauthorisedrequest",
    403: "forbidden",
    404: "unknownobject",
    405: "invaliddata",
    409: "invaliddata",
    422: "invaliddata",
    429: "server_busy",
    500: "internal_server_error",
}
# Tool error codes that name a more precise code minor than their status does.
CODE_MINOR_BY_CODE = {
    "invalid_filter_field": "invalid_filter_field",
    "invalid_selection_field": "invalid_selection_field",
}


class CodeMinorField(BaseModel):
    imsx_codeMinorFieldName: str = "TargetEndSystem"
    imsx_codeMinorFieldValue: Literal[
        "fullsuccess",
        "invalid_filter_field",
        "invalid_selection_field",
        "invaliddata",
        "unauthorisedrequest",
        "forbidden",
        "server_busy",
        "unknownobject",
        "internal_server_error",
    ]


class CodeMinor(BaseModel):
    imsx_codeMinorField: list[CodeMinorField] = Field(min_length=1)


class StatusInfo(BaseModel):
    """imsx_StatusInfoDType: sent only on failure."""

    imsx_codeMajor: Literal["success", "processing", "failure", "unsupported"]
    imsx_severity: Literal["status", "warning", "error"]
    imsx_description: str | None = None
    imsx_CodeMinor: CodeMinor | None = None


class OneRosterError(Exception):
    """A failed OneRoster request: HTTP status, code minor and a description a developer can act on."""

    def __init__(self, status: int, description: str, code_minor: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.code_minor = code_minor or CODE_MINOR.get(status, "invaliddata")

    @classmethod
    def from_tool(cls, err: ToolCallError) -> OneRosterError:
        """The OneRoster form of a runner refusal (the audit entry's seq is named for support)."""
        status = err.status if err.status in CODE_MINOR else (400 if err.status < 500 else 500)
        if err.code == "invalid_input":
            status = 400
        where = f" (audit entry {err.audit_seq})" if err.audit_seq is not None else ""
        return cls(status, f"{err.message}{where}", CODE_MINOR_BY_CODE.get(err.code))


def status_body(status: int, description: str, code_minor: str | None = None) -> dict[str, Any]:
    """The imsx_StatusInfo JSON of a failure."""
    info = StatusInfo(
        imsx_codeMajor="failure",
        imsx_severity="error",
        imsx_description=description,
        imsx_CodeMinor=CodeMinor(
            imsx_codeMinorField=[
                CodeMinorField(imsx_codeMinorFieldValue=code_minor or CODE_MINOR.get(status, "invaliddata"))
            ]
        ),
    )
    return info.model_dump(exclude_none=True)


def error_response(err: OneRosterError) -> JSONResponse:
    """The HTTP response of a OneRoster failure (401s also carry a Bearer challenge)."""
    headers = {"WWW-Authenticate": 'Bearer realm="oneroster", error="invalid_token"'} if err.status == 401 else None
    return JSONResponse(
        status_body(err.status, err.description, err.code_minor), status_code=err.status, headers=headers
    )
