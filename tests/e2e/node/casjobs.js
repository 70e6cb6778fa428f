// A CasJobs client on node's `soap` package, built from the served jobs.asmx?WSDL: a job's whole cycle over one
// port (JobsSoap or JobsSoap12), printing what each call answered as one JSON object.
// Usage: node casjobs.js <wsdl url> <port name> <wsid> <password> <endless query>
"use strict";
const soap = require("soap");

async function fault(call) {
  try {
    await call();
  } catch (error) {
    const body = (error.root && error.root.Envelope && error.root.Envelope.Body) || {};
    const f = body.Fault || {};
    const code = f.faultcode || (f.Code && f.Code.Value) || "";
    const text = f.faultstring || (f.Reason && f.Reason.Text && (f.Reason.Text.$value || f.Reason.Text)) || "";
    return { status: error.response && error.response.status, code: String(code).split(":").pop(), text: String(text) };
  }
  return null;
}

async function waitFor(predicate) {
  for (let i = 0; i < 750; i += 1) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

async function main() {
  const [url, port, wsid, pw, endless] = process.argv.slice(2);
  const soap12 = port.endsWith("Soap12");
  const client = await soap.createClientAsync(url, soap12 ? { forceSoap12Headers: true } : {});
  const ops = client.Jobs[port];
  const call = (op, args) => new Promise((resolve, reject) => {
    ops[op](args, (error, result) => (error ? reject(error) : resolve(result)));
  });
  const status = async (jobId) => Number((await call("GetJobStatus", { wsId: wsid, pw, jobId })).GetJobStatusResult);
  const out = {};
  const queues = (await call("GetQueues", { wsid, pw })).GetQueuesResult;
  out.queues = Boolean(queues && queues.CJQueue);
  const job = String((await call("SubmitJob", { wsid, pw, qry: endless, context: "MyDB", taskname: "node", estimate: 1 }))
    .SubmitJobResult);
  out.started = await waitFor(async () => (await status(job)) === 1);
  const listed = (await call("GetJobs", { owner_wsid: wsid, owner_pw: pw, conditions: `JobID : ${job}`, includeSystem: false }))
    .GetJobsResult;
  const found = [].concat((listed && listed.CJJob) || []);
  out.listed = found.map((j) => [String(j.JobID) === job, j.TaskName]);
  await call("CancelJob", { wsId: wsid, pw, jobId: job });
  out.ended = await waitFor(async () => (await status(job)) === 3);
  out.cancelAgain = await fault(() => call("CancelJob", { wsId: wsid, pw, jobId: job }));
  out.quick = (await call("ExecuteQuickJob", { wsid, pw, qry: "SELECT 1 AS a, 'x' AS b", context: "MyDB", taskname: "quick",
    isSystem: false })).ExecuteQuickJobResult;
  out.badLogin = await fault(() => call("GetJobStatus", { wsId: wsid, pw: "wrong-password", jobId: job }));
  out.job = job;
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
