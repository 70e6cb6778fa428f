"""CommandWebService.asmx as a Spyne service: each method parses, calls operations.py, maps back. The
operations are those birst.md lists, with its names, parameter order and result types."""

from datetime import datetime
from typing import Any

from spyne import ServiceBase, rpc
from spyne.model.primitive import Boolean, DateTime, Unicode

from jobgate.dialects.birst import operations, wire

Text = Unicode(min_occurs=0, nillable=False)
Flag = Boolean(min_occurs=1, nillable=False)
When = DateTime(min_occurs=1, nillable=False)


class CommandWebService(ServiceBase):  # type: ignore[misc]
    __service_name__ = wire.SERVICE

    @rpc(Text, Text, _returns=Text)
    def Login(ctx: Any, username: str, password: str) -> str:
        """Log in with a user name and password. Returns the login token every other operation takes; it
        expires after a certain amount of inactivity or after logout."""
        return operations.login(ctx.udc, username, password)

    @rpc(Text, _returns=None)
    def Logout(ctx: Any, token: str) -> None:
        """Log out: the login token is no longer valid."""
        operations.logout(ctx.udc, token)

    @rpc(Text, Text, Text, _returns=Flag)
    def cancelJob(ctx: Any, token: str, spaceID: str, jobToken: str) -> bool:
        """Cancel a job. Arguments include the Login token, space id and the job token. Returns true if
        cancellation request is successful. Call getDetailedJobStatus and isJobComplete to check the status.
        Cancellation of asynchronous job might take some time to complete cancellation request."""
        return operations.cancel_job(ctx.udc, token, spaceID, jobToken)

    @rpc(Text, Text, Text, _returns=Flag)
    def clearJobStatus(ctx: Any, token: str, spaceID: str, jobToken: str) -> bool:
        """Clear the status of a space and job when the job is unresponsive: the job is asked to stop.
        Returns true if the request is accepted."""
        return operations.clear_job_status(ctx.udc, token, spaceID, jobToken)

    @rpc(Text, Text, _returns=Flag)
    def isJobComplete(ctx: Any, token: str, jobToken: str) -> bool:
        """Returns true if processing of the job is complete."""
        return operations.is_job_complete(ctx.udc, token, jobToken)

    @rpc(Text, Text, _returns=wire.StatusResult)
    def getJobStatus(ctx: Any, token: str, jobToken: str) -> wire.StatusResult:
        """Returns the status of a job (None, Running, Complete or Failed)."""
        return operations.get_job_status(ctx.udc, token, jobToken)

    @rpc(Text, Text, _returns=wire.StatusResult)
    def getDetailedJobStatus(ctx: Any, token: str, jobToken: str) -> wire.StatusResult:
        """Returns the status of a job, including new statuses (Queued, Running, Cancelling, Cancelled,
        Suspended, Complete, Failed)."""
        return operations.get_detailed_job_status(ctx.udc, token, jobToken)

    @rpc(Text, Text, wire.ArrayOfString, When, _returns=Text)
    def publishData(ctx: Any, token: str, spaceID: str, subgroups: list[str], date: datetime) -> str:
        """Publish data in a space. Returns a job token: poll isJobComplete, then read getJobStatus."""
        return operations.publish_data(ctx.udc, token, spaceID, subgroups, date)

    @rpc(Text, Text, _returns=Text)
    def getLoadStatus(ctx: Any, token: str, spaceID: str) -> str:
        """Returns the load status of a space: Available, or Processing while a job runs in it."""
        return operations.get_load_status(ctx.udc, token, spaceID)

    @rpc(Text, Text, _returns=Flag)
    def isPublishingComplete(ctx: Any, token: str, publishingToken: str) -> bool:
        """Deprecated: use isJobComplete."""
        return operations.is_job_complete(ctx.udc, token, publishingToken)

    @rpc(Text, Text, _returns=wire.ArrayOfString)
    def getPublishingStatus(ctx: Any, token: str, publishingToken: str) -> list[str]:
        """Deprecated: use getJobStatus. Returns the publishing status (None, Running, Complete, Failed)."""
        return operations.get_publishing_status(ctx.udc, token, publishingToken)

    @rpc(Text, Text, _returns=Flag)
    def clearCacheInSpace(ctx: Any, token: str, spaceID: str) -> bool:
        """Clear the cache of a space."""
        return operations.clear_cache_in_space(ctx.udc, token, spaceID)

    @rpc(Text, Text, Text, Text, Text, _returns=Text)
    def copySpace(ctx: Any, token: str, spFromID: str, spToID: str, mode: str, options: str) -> str:
        """Not supported by this server."""
        return operations.not_supported(ctx.udc, token)

    @rpc(Text, Text, _returns=Text)
    def deleteSpace(ctx: Any, token: str, spaceId: str) -> str:
        """Not supported by this server."""
        return operations.not_supported(ctx.udc, token)

    @rpc(Text, Text, Text, _returns=Text)
    def swapSpaceContents(ctx: Any, token: str, sp1ID: str, sp2ID: str) -> str:
        """Not supported by this server."""
        return operations.not_supported(ctx.udc, token)
