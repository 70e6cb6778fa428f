// A Birst client on node's `soap` package, built from the served WSDL: the whole cycle over one port
// (CommandWebServiceSoap or CommandWebServiceSoap12), printing what each call answered as one JSON object.
// Usage: node birst.js <wsdl url> <port name> <user> <password> <space id>
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
  const [url, port, user, password, space] = process.argv.slice(2);
  const soap12 = port.endsWith("Soap12");
  const client = await soap.createClientAsync(url, soap12 ? { forceSoap12Headers: true } : {});
  const ops = client.CommandWebService[port];
  const call = (op, args) => new Promise((resolve, reject) => {
    ops[op](args, (error, result) => (error ? reject(error) : resolve(result)));
  });
  const out = {};
  const token = (await call("Login", { username: user, password })).LoginResult;
  out.tokenLength = token.length;
  out.loadBefore = (await call("getLoadStatus", { token, spaceID: space })).getLoadStatusResult;
  const job = (await call("publishData", {
    token, spaceID: space, subgroups: { string: ["Sales", "seconds=600"] }, date: new Date("2024-04-18T12:34:56Z"),
  })).publishDataResult;
  out.started = await waitFor(async () =>
    (await call("getJobStatus", { token, jobToken: job })).getJobStatusResult.statusCode === "Running");
  out.completeWhileRunning = (await call("isJobComplete", { token, jobToken: job })).isJobCompleteResult;
  const detailed = (await call("getDetailedJobStatus", { token, jobToken: job })).getDetailedJobStatusResult;
  out.detailed = { processingGroup: detailed.processingGroup, type: detailed.type, statusCode: detailed.statusCode };
  out.loadWhileRunning = (await call("getLoadStatus", { token, spaceID: space })).getLoadStatusResult;
  out.cancel = (await call("cancelJob", { token, spaceID: space, jobToken: job })).cancelJobResult;
  out.ended = await waitFor(async () =>
    (await call("isJobComplete", { token, jobToken: job })).isJobCompleteResult === true);
  out.detailedAfter = (await call("getDetailedJobStatus", { token, jobToken: job })).getDetailedJobStatusResult.statusCode;
  out.statusAfter = (await call("getJobStatus", { token, jobToken: job })).getJobStatusResult.statusCode;
  out.publishingComplete = (await call("isPublishingComplete", { token, publishingToken: job })).isPublishingCompleteResult;
  const publishing = (await call("getPublishingStatus", { token, publishingToken: job })).getPublishingStatusResult;
  out.publishingStatus = publishing && publishing.string;
  out.cancelAgain = (await call("cancelJob", { token, spaceID: space, jobToken: job })).cancelJobResult;
  out.clear = (await call("clearJobStatus", { token, spaceID: space, jobToken: job })).clearJobStatusResult;
  out.clearCache = (await call("clearCacheInSpace", { token, spaceID: space })).clearCacheInSpaceResult;
  out.notSupported = await fault(() => call("deleteSpace", { token, spaceId: space }));
  out.badLogin = await fault(() => call("Login", { username: user, password: "wrong-password" }));
  await call("Logout", { token });
  out.afterLogout = await fault(() => call("isJobComplete", { token, jobToken: job }));
  out.jobToken = job;
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + "\n");
  process.exit(1);
});
