"""{% load carepaths %}

{% episode_path episode user %}   where the episode stands on its care path (nothing when it
                                  has none); the caller has authorized the episode already.
{{ step_id|step_label:labels }}   a step's label from a {id: label} mapping (the id if absent)"""

from typing import Any

from django import template

from carepath.accounts.models import User
from carepath.care.models import Episode
from carepath.carepaths.selectors import path_position

register = template.Library()


@register.inclusion_tag("carepaths/_episode_path.html")
def episode_path(episode: Episode, viewer: User) -> dict[str, Any]:
    return {"position": path_position(viewer, episode)}


@register.filter
def step_label(step_id: str, labels: dict[str, str]) -> str:
    return labels.get(step_id, step_id) if isinstance(labels, dict) else step_id
