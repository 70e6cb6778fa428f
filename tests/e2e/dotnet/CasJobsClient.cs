// A CasJobs client as .NET shops write one: Mono's `wsdl` tool generates the Jobs proxy from jobs.asmx?WSDL,
// `mcs` compiles it with this file, `mono` runs it. It walks a job's whole cycle over the proxy's protocol
// (SOAP 1.1, or SOAP 1.2 when generated with -protocol:SOAP12) and prints one `name=value` line per observation;
// faults are caught as SoapException and printed as `code|text`.
// Usage: mono client.exe <service url> <wsid> <password> <endless query>
using System;
using System.Threading;
using System.Web.Services.Protocols;

public static class CasJobsClient
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
        var jobs = new Jobs();
        jobs.Url = args[0];
        long wsid = long.Parse(args[1]);
        string pw = args[2], endless = args[3];

        Show("queues", jobs.GetQueues(wsid, pw).Length > 0);
        long job = jobs.SubmitJob(wsid, pw, endless, "MyDB", "dotnet", 1);
        Show("started", WaitFor(() => jobs.GetJobStatus(wsid, pw, job) == 1));
        CJJob[] listed = jobs.GetJobs(wsid, pw, "JobID : " + job, false);
        Show("listed", listed.Length + "/" + (listed.Length == 1 && listed[0].JobID == job) + "/" + listed[0].TaskName);
        jobs.CancelJob(wsid, pw, job);
        Show("ended", WaitFor(() => jobs.GetJobStatus(wsid, pw, job) == 3));
        Fault("cancelAgain", () => jobs.CancelJob(wsid, pw, job));
        Show("quick", jobs.ExecuteQuickJob(wsid, pw, "SELECT 1 AS a, 'x' AS b", "MyDB", "quick", false).Replace("\n", "\\n"));
        Fault("badLogin", () => jobs.GetJobStatus(wsid, "wrong-password", job));
        Fault("unknownWsid", () => jobs.CancelJob(wsid + 1000, pw, job));
        Show("job", job);
        return 0;
    }
}
