"""Bodies of the help desk's administration: teams, agents and macros."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from api.helpdesk.schemas import Id, PriorityOrKeep
from domain.text import Line, Paragraph

# --- requester accounts ---------------------------------------------------------------------------


class MacroIn(BaseModel):
    team_id: Id
    name: Line = Field(min_length=1, max_length=100)
    body_en: Paragraph = Field(
        min_length=1,
        max_length=20000,
        description="Placeholders: {requester_name}, {case_number}, {agent_name}",
    )
    body_es: Paragraph = Field(min_length=1, max_length=20000)
    set_state: Literal["", "pending", "resolved"] = ""
    set_priority: PriorityOrKeep = ""
    public: bool = True


class MacroOut(MacroIn):
    id: int
    team: str


class FilledMacroOut(BaseModel):
    id: int
    name: str
    body: str = Field(description="In the requester's language, placeholders filled")
    visibility: Literal["public", "internal"]
    then: str
    priority: str


class NamesIn(BaseModel):
    category: Line = Field(description="Category code, e.g. 'recipient'")
    topic: Line | None = Field(default=None, description="Topic code in the category (none: the category)")
    name: Line = Field(min_length=1, max_length=100)
    name_es: Line = Field(default="", max_length=100, description="'': Spanish readers see the English name")


class NamesOut(NamesIn):
    id: int


class TeamIn(BaseModel):
    name: Line = Field(min_length=1, max_length=100)
    email: EmailStr = Field(description="Where the team's breach escalations go")
    is_default: bool = Field(default=False, description="Cases no routing rule matches go here")


class TeamAdminOut(TeamIn):
    id: int


class AgentIn(BaseModel):
    login_name: Line = Field(min_length=3, max_length=80, description="An existing login, or a new one")
    email: EmailStr = Field(description="The login's email (a new login gets its set-up email there)")
    first_name: Line = Field(default="", max_length=100)
    last_name: Line = Field(default="", max_length=100)
    display_name: Line = Field(default="", max_length=200)
    is_admin: bool = False
    team_ids: list[Id] = Field(min_length=1, max_length=100)
    preferred_language: Literal["en", "es"] = "en"


class AgentChangeIn(BaseModel):
    display_name: Line = Field(default="", max_length=200)
    is_admin: bool = False
    is_active: bool = True
    team_ids: list[Id] = Field(min_length=1, max_length=100)


class AgentAdminOut(BaseModel):
    agent_id: int
    login_name: str
    email: str
    name: str
    is_admin: bool
    is_active: bool
    team_ids: list[int]
