// A .NET client of jobgate's Trans-WS: the proxy `wsdl` generated from ?wsdl, compiled with mcs, run by mono.
// usage: mono client.exe URL USER PASSWORD CLIENT_CODE   (CLIENT_CODE: Client for SOAP 1.1, Sender for 1.2)
// Prints one line per step; exits 0 when every step held. The job stays Submitted: the server runs no runners.
using System;
using System.Net;
using System.Web.Services.Protocols;

public static class Program {
    static int failures = 0;

    static void Expect(string step, object actual, object expected) {
        bool same = Equals(actual, expected);
        if (!same) failures++;
        Console.WriteLine("{0} {1}: {2}", same ? "ok" : "FAIL", step, same ? actual : actual + " != " + expected);
    }

    static string CodeOf(SoapException fault) {
        return fault.Code.Name + (fault.SubCode != null ? "." + fault.SubCode.Code.Name : "");
    }

    public static int Main(string[] args) {
        string client = args[3];
        var jobs = new TransWS { Url = args[0], Credentials = new NetworkCredential(args[1], args[2]) };
        var ticket = new ticket { jobId = "", projectId = "books", userId = args[1] };
        Expect("submitJob", jobs.submitJob(ref ticket, null, "sleep", null, null, null, "seconds=600", null), "Job submitted");
        Expect("key", ticket.jobId.Length, 32);
        string info;
        Expect("suspendJob", jobs.suspendJob(ref ticket, out info) + " " + info, "True Suspension succeeded");
        Expect("resumeJob", jobs.resumeJob(ref ticket, out info) + " " + info, "True Resumption succeeded");
        Expect("listed", Array.Exists(jobs.retrieveActiveJobsList(), t => t.jobId == ticket.jobId), true);
        Expect("cancelJob", jobs.cancelJob(ref ticket, out info) + " " + info, "True Cancellation succeeded");
        Expect("cancelJob again", jobs.cancelJob(ref ticket, out info) + " " + info, "False Job is complete");
        Expect("full list", Array.Exists(jobs.retrieveFullJobsList(), t => t.jobId == ticket.jobId), true);
        var copy = new ticket { jobId = ticket.jobId, projectId = ticket.projectId, userId = ticket.userId };
        string service, domain, pair, text, order;
        requiredBy due;
        resource[] associations;
        @event[] history;
        jobs.retrieveJobInformation(ref copy, out service, out domain, out pair, out due, out text, out order,
                                    out associations, out history);
        Expect("service", service + " " + text, "sleep seconds=600");
        var last = history[history.Length - 1];
        Expect("last event", last.stage + "/" + last.status, "job/cancelled");
        try {
            rejectionDeadline deadline;
            jobs.retrieveJob(ref copy, out deadline);
            Expect("retrieveJob of a cancelled job", "answered", "SoapException");
        } catch (SoapException fault) {
            Expect("retrieveJob fault", CodeOf(fault) + " " + fault.Message, client + " Job is not complete");
        }
        jobs.Credentials = new NetworkCredential(args[1], "wrong");
        try {
            jobs.retrieveActiveJobsList();
            Expect("bad password", "answered", "SoapException");
        } catch (SoapException fault) {
            Expect("bad password fault", CodeOf(fault) + " " + fault.Message,
                   client + ".Authentication Invalid user name or password.");
        }
        return failures == 0 ? 0 : 1;
    }
}
