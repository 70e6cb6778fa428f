// Esri's own JS client against jobgate: node gp_job.mjs <base URL> <user> <password>
// Prints one JSON object with what the client saw; tests/e2e/test_arcgis_clients.py checks it.
import { ApiKeyManager, Job, request } from "@esri/arcgis-rest-request";

const [base, username, password] = process.argv.slice(2);
const task = `${base}/arcgis/rest/services/demo/GPServer/sleep`;
const seen = {};

const issued = await request(`${base}/arcgis/tokens/generateToken`, {
  params: { username, password, client: "requestip", expiration: 60 },
  httpMethod: "POST",
});
seen.tokenExpiresIsNumber = typeof issued.expires === "number";
const authentication = ApiKeyManager.fromKey(issued.token);

// submit, then wait for completion the way the client does (it polls every 2 s)
const quick = await Job.submitJob({ url: `${task}/submitJob`, params: { seconds: 0.2 }, authentication });
seen.quickId = quick.id;
const done = await quick.waitForCompletion();
seen.quickStatus = done.status;
seen.quickMessages = (done.messages || []).map((m) => m.description);
const output = await quick.getResult("result");
seen.quickResult = [output.paramName, output.dataType, output.value];

// a long job, cancelled by the client once it runs
const slow = await Job.submitJob({ url: task, params: { seconds: 60 }, authentication });
let info = await slow.getJobInfo();
for (let i = 0; i < 150 && info.status !== "Executing"; i++) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  info = await slow.getJobInfo();
}
seen.slowRunning = info.status;
const cancelled = await slow.cancelJob();
seen.cancelReply = cancelled.jobStatus;
try {
  await slow.waitForCompletion();
  seen.slowEnd = "completed";
} catch (error) {
  seen.slowEnd = error.status || error.name;
}

// a token the server never issued: the client sees an auth error with code 498
try {
  await request(`${task}/jobs/${quick.id}`, { authentication: ApiKeyManager.fromKey("not-a-token") });
  seen.badToken = "accepted";
} catch (error) {
  seen.badToken = { name: error.name, code: error.code };
}
console.log(JSON.stringify(seen));
