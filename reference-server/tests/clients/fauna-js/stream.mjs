// The real npm fauna driver against the reference server: FQL writes and an
// event source, a stream of the set's changes, a resume from a cursor, a feed.
// Prints one JSON report on stdout. Usage: node stream.mjs BASE_URL SECRET
import { Client, fql, StreamToken } from "fauna";

const [base, secret] = process.argv.slice(2);
const client = new Client({ endpoint: new URL(base), secret, max_attempts: 1 });
const report = { outcome: "error" };
const deadline = setTimeout(() => {
  report.error = "timed out";
  console.log(JSON.stringify(report));
  process.exit(1);
}, 30000);

async function take(stream, n) {
  const events = [];
  for await (const event of stream) {
    events.push({ type: event.type, id: event.data?.id, status: event.data?.status, cursor: event.cursor, txn_ts: event.txn_ts });
    if (events.length === n) break;
  }
  stream.close();
  return events;
}

try {
  await client.query(fql`Collection.create({ name: "JsOrders" })`);
  const token = (await client.query(fql`JsOrders.where(.status == "open").eventSource()`)).data;
  report.tokenClass = token.constructor.name;
  // Writes before the stream opens, so that the replay arrives in one chunk:
  // the driver's HTTP/2 reader keeps only the newest chunk when several wait.
  const a = (await client.query(fql`JsOrders.create(${{ status: "open", n: 1 }})`)).data;
  const b = (await client.query(fql`JsOrders.create(${{ status: "closed", n: 2 }})`)).data;
  await client.query(fql`JsOrders.byId(${a.id})!.update({ n: 2 })`);
  await client.query(fql`JsOrders.byId(${b.id})!.update({ status: "open" })`);
  await client.query(fql`JsOrders.byId(${a.id})!.update({ status: "closed" })`);
  report.ids = { a: a.id, b: b.id };
  report.docClass = a.constructor.name;
  report.first = await take(client.stream(token), 4);
  report.resumed = await take(client.stream(new StreamToken(token.token), { cursor: report.first[1].cursor }), 2);
  const feed = client.feed(token, { page_size: 3 });
  report.feed = [];
  for await (const page of feed) {
    report.feed.push([...page.events].map((e) => `${e.type}:${e.data.id}`));
  }
  report.outcome = "ok";
} catch (error) {
  report.error = `${error?.constructor?.name}: ${error?.message}`;
}
clearTimeout(deadline);
client.close();
console.log(JSON.stringify(report));
