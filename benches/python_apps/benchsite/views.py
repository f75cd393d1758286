import asyncio
import time

from django.http import HttpResponse


def hello(request):
    return HttpResponse(b"Hello, world!", content_type="text/plain")


def sleep(request):
    time.sleep(0.010)
    return HttpResponse(b"Hello, world!", content_type="text/plain")


async def async_sleep(request):
    await asyncio.sleep(0.010)
    return HttpResponse(b"Hello, world!", content_type="text/plain")
