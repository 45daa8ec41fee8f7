"""Image routes: POST /images/pull {image} -> ImageInfo (pull and unpack an OCI image ahead of a
VM create, off the event loop; `VmSpec.image` may then name the same reference)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from chaser.host.vms import VmManager
from chaser.host.wire import ImageInfo, ImagePull

router = APIRouter(prefix="/images", tags=["images"])


@router.post("/pull")
async def pull_image(spec: ImagePull, request: Request) -> ImageInfo:
    vms: VmManager = request.app.state.vms
    digest, rootfs = await asyncio.to_thread(vms.images.pull, spec.image)
    return ImageInfo(image=spec.image, digest=digest, rootfs=str(rootfs))
