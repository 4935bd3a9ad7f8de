"""The object store's dependency provider."""

from typing import Annotated

from fastapi import Depends, Request

from .objects import ObjectStore


async def get_object_store(request: Request) -> ObjectStore:
    object_store: ObjectStore = request.state.object_store
    return object_store


ObjectStoreDep = Annotated[ObjectStore, Depends(get_object_store)]
