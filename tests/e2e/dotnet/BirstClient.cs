// A Birst client as .NET shops write one: Mono's `wsdl` tool generates the CommandWebService proxy from
// ?wsdl, `mcs` compiles it with this file, `mono` runs it. It walks the whole cycle over the proxy's
// protocol (SOAP 1.1, or SOAP 1.2 when generated with -protocol:SOAP12) and prints one `name=value` line per
// observation; faults are caught as SoapException and printed as `code|text`.
// Usage: mono BirstClient.exe <service url> <user> <password> <space id>
using System;
using System.Threading;
using System.Web.Services.Protocols;

public static class BirstClient
{
    static void Show(string name, object value)
    {
        Console.WriteLine(name + "=" + (value == null ? "<null>" : value.ToString()));
    }

    static void Fault(string name, Action call)
    {
        try
        {
            call();
            Show(name, "no fault");
        }
        catch (SoapException fault)
        {
            Show(name, fault.Code.Name + "|" + fault.Message);
        }
    }

    static bool WaitFor(Func<bool> reached)
    {
        for (int i = 0; i < 750; i++)
        {
            if (reached()) return true;
            Thread.Sleep(20);
        }
        return false;
    }

    public static int Main(string[] args)
    {
        var birst = new CommandWebService();
        birst.Url = args[0];
        string user = args[1], password = args[2], space = args[3];

        string token = birst.Login(user, password);
        Show("tokenLength", token.Length);
        Show("loadBefore", birst.getLoadStatus(token, space));
        string job = birst.publishData(token, space, new string[] { "Sales", "seconds=600" }, new DateTime(2024, 4, 18, 12, 34, 56));
        Show("jobTokenLength", job.Length);
        Show("started", WaitFor(() => birst.getJobStatus(token, job).statusCode == "Running"));
        Show("completeWhileRunning", birst.isJobComplete(token, job));
        StatusResult detailed = birst.getDetailedJobStatus(token, job);
        Show("detailed", detailed.processingGroup + "/" + detailed.type + "/" + detailed.statusCode);
        Show("loadWhileRunning", birst.getLoadStatus(token, space));
        Show("cancel", birst.cancelJob(token, space, job));
        Show("ended", WaitFor(() => birst.isJobComplete(token, job)));
        Show("detailedAfter", birst.getDetailedJobStatus(token, job).statusCode);
        Show("statusAfter", birst.getJobStatus(token, job).statusCode);
        Show("publishingComplete", birst.isPublishingComplete(token, job));
        Show("publishingStatus", string.Join(",", birst.getPublishingStatus(token, job)));
        Show("cancelAgain", birst.cancelJob(token, space, job));
        Show("clear", birst.clearJobStatus(token, space, job));
        Show("clearCache", birst.clearCacheInSpace(token, space));
        Fault("copySpace", () => birst.copySpace(token, space, space, "copy", ""));
        Fault("deleteSpace", () => birst.deleteSpace(token, space));
        Fault("swapSpaceContents", () => birst.swapSpaceContents(token, space, space));
        Fault("badLogin", () => birst.Login(user, "wrong-password"));
        Fault("badSpace", () => birst.cancelJob(token, "space", job));
        birst.Logout(token);
        Fault("afterLogout", () => birst.isJobComplete(token, job));
        Show("job", job);
        return 0;
    }
}
