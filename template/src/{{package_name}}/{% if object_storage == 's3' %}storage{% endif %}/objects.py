"""Objects in the bucket, streamed in and out with bounded memory.

An upload reads its body in parts of `part_size` bytes and sends each as a part of a multipart
upload, so one upload holds at most one part in memory, however large the object. A download
hands the body on in chunks as they arrive. Neither ever holds a whole object.
"""

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiobotocore.response import StreamingBody
from botocore.exceptions import ClientError

from ..exceptions import NotFound
from ..resources.s3 import S3Settings

if TYPE_CHECKING:  # the stubs are a development dependency
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

DOWNLOAD_CHUNK = 64 * 1024


class ObjectNotFound(NotFound):
    def __init__(self, key: str) -> None:
        super().__init__(f"no object {key!r}")
        self.key = key


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class Download:
    content_type: str
    size: int
    chunks: AsyncIterator[bytes]


class ObjectStore:
    def __init__(self, client: "S3Client", settings: S3Settings) -> None:
        self.client = client
        self.bucket = settings.bucket
        self.part_size = settings.part_size
        self.url_lifetime = settings.presigned_url_lifetime

    async def upload(
        self, key: str, body: AsyncIterable[bytes], content_type: str = "application/octet-stream"
    ) -> StoredObject:
        """Store `body` as `key`: in one request if it fits in a part, else part by part."""
        parts = _parts(body, self.part_size)
        first = await anext(parts, b"")
        if len(first) < self.part_size:
            answer = await self.client.put_object(
                Bucket=self.bucket, Key=key, Body=first, ContentType=content_type
            )
            return StoredObject(key, len(first), answer["ETag"])
        all_parts = _starting_with(first, parts)
        del first  # from here on, only the part being sent stays in memory
        return await self._upload_in_parts(key, content_type, all_parts)

    async def _upload_in_parts(
        self, key: str, content_type: str, parts: AsyncIterator[bytes]
    ) -> StoredObject:
        started = await self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=content_type
        )
        upload_id = started["UploadId"]
        done: list[CompletedPartTypeDef] = []
        size = 0
        try:
            async for part in parts:
                number = len(done) + 1
                answer = await self.client.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part
                )
                done.append({"PartNumber": number, "ETag": answer["ETag"]})
                size += len(part)
                del part  # before the next part is read
            finished = await self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
            )
        except BaseException:
            # An upload left open keeps its parts, and costs storage, until it is aborted.
            await self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id
            )
            raise
        return StoredObject(key, size, finished["ETag"])

    async def describe(self, key: str) -> StoredObject:
        """The object's size and ETag, without its bytes; raises `ObjectNotFound`."""
        with _not_found_as(key):
            answer = await self.client.head_object(Bucket=self.bucket, Key=key)
        return StoredObject(key, answer["ContentLength"], answer["ETag"])

    async def download(self, key: str) -> Download:
        """The object's bytes, chunk by chunk; raises `ObjectNotFound` before the first."""
        with _not_found_as(key):
            answer = await self.client.get_object(Bucket=self.bucket, Key=key)
        return Download(answer["ContentType"], answer["ContentLength"], _chunks_of(answer["Body"]))

    async def presigned_url(self, key: str, method: str = "get_object") -> str:
        """A URL that lets its holder `method` the object directly, for a limited time."""
        return await self.client.generate_presigned_url(
            method, Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.url_lifetime
        )

    async def delete(self, key: str) -> None:
        await self.client.delete_object(Bucket=self.bucket, Key=key)

    async def ready(self) -> None:
        await self.client.head_bucket(Bucket=self.bucket)


@contextmanager
def _not_found_as(key: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
            raise ObjectNotFound(key) from error
        raise


async def _parts(body: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    """`body` regrouped into parts of exactly `size` bytes, the last one shorter."""
    buffer = bytearray()
    async for chunk in body:
        buffer += chunk
        if len(buffer) >= size:
            part, buffer = bytes(buffer[:size]), buffer[size:]
            yield part
            del part
    if buffer:
        yield bytes(buffer)


async def _starting_with(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    del first
    async for part in rest:
        yield part


async def _chunks_of(body: StreamingBody) -> AsyncIterator[bytes]:
    try:
        async for chunk in body.iter_chunks(DOWNLOAD_CHUNK):
            yield chunk
    finally:
        body.close()
