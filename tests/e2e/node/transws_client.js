// One Trans-WS call with node's `soap` package, built from the served WSDL; prints the answer as JSON.
// usage: node transws_client.js WSDL_URL soap11|soap12 basic|token USER PASSWORD OPERATION [ARGS_JSON]
"use strict";
const soap = require("soap");

async function main() {
  const [url, version, auth, user, password, operation, args] = process.argv.slice(2);
  const soap12 = version === "soap12";
  const client = await soap.createClientAsync(url, { forceSoap12Headers: soap12 });
  client.setSecurity(auth === "basic"
    ? new soap.BasicAuthSecurity(user, password)
    : new soap.WSSecurity(user, password, { passwordType: "PasswordText", hasTimeStamp: false }));
  const port = client.TransWS[soap12 ? "TransWSSoap12" : "TransWSSoap"];
  const call = (name, input) => new Promise((resolve, reject) =>
    port[name](input, (err, result) => (err ? reject(err) : resolve(result))));
  try {
    const result = await call(operation, JSON.parse(args || "{}"));
    process.stdout.write(JSON.stringify({ result }) + "\n");
  } catch (err) {
    const fault = err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
    process.stdout.write(JSON.stringify({ fault: fault || String(err) }) + "\n");
  }
}

main().catch((err) => { process.stderr.write(String(err && err.stack || err) + "\n"); process.exit(2); });
