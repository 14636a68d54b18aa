"""The catalog itself over REST: what the caller may call, and any tool by name (billing and future areas too)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel, Field

from mcp_server.rest.core import call, principal_dependency, tool_route
from mcp_server.rest.errors import ERROR_RESPONSES
from policies.principal import Principal
from tools.runner import Deps, visible_tools


class ToolInfo(BaseModel):
    name: str
    title: str
    description: str
    read_only: bool
    input_schema: dict[str, Any]


class ToolList(BaseModel):
    items: list[ToolInfo]


class ToolCallResult(BaseModel):
    tool: str
    audit_seq: int = Field(description="The query-log entry of this call.")
    output: dict[str, Any]


def add_routes(router: APIRouter, deps: Deps) -> None:
    """Register /me, /tools and /tools/{name}."""
    tool_route(router, deps, "GET", "/me", "whoami")
    CurrentPrincipal = Annotated[Principal, Depends(principal_dependency(deps))]

    @router.get("/tools", operation_id="list_tools", summary="Tools you may call", response_model=ToolList,
                responses=ERROR_RESPONSES)  # fmt: skip
    def list_tools(principal: CurrentPrincipal) -> ToolList:
        """The catalog entries your role and key allow, with their input JSON Schemas (as MCP tools/list shows)."""
        return ToolList(
            items=[
                ToolInfo(
                    name=spec.name,
                    title=spec.title,
                    description=spec.description,
                    read_only=spec.read_only,
                    input_schema=spec.input_model.model_json_schema(),
                )
                for spec in visible_tools(deps, principal)
            ]
        )

    @router.post("/tools/{name}", operation_id="call_tool", summary="Call any catalog tool by name",
                 response_model=ToolCallResult, responses=ERROR_RESPONSES)  # fmt: skip
    def call_tool(
        principal: CurrentPrincipal,
        name: Annotated[str, Path(max_length=100, description="A tool name from GET /tools.")],
        arguments: Annotated[dict[str, Any], Body(description="The tool's input (see its input_schema).")],
    ) -> ToolCallResult:
        """Run a catalog tool with JSON arguments: the same tool, permissions and audit as over MCP."""
        result = call(deps, principal, name, arguments)
        return ToolCallResult(tool=name, audit_seq=result.audit_seq, output=result.data)
