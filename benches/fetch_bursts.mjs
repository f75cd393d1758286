// Bursts of concurrent `fetch` calls, the way a Node client hits a server: Node's built-in
// fetch (undici) keeps idle connections alive between bursts and reuses them, and it does not
// retry a request whose kept-alive connection the server closed. A server that closes an idle
// connection the client is about to reuse, or that leaves accepted connections waiting, shows
// up here as failed requests ("other side closed") and slow bursts.
//
//   node benches/fetch_bursts.mjs http://127.0.0.1:8000/hello
//   node benches/fetch_bursts.mjs URL --bursts 12 --concurrency 500 --pause-min 0.9 --pause-max 1.1
//
// Loopback targets only. Prints one line per burst on stderr and, on stdout, one JSON object:
// { url, bursts, concurrency, requests, failures, errors: {message: count}, first_error,
//   burst_seconds: [...], median_after_first, max_after_first, total_seconds }.
// Needs Node 18+ (global fetch); no npm packages.

const args = process.argv.slice(2);
if (args.length === 0 || args[0].startsWith("-")) {
  console.error("usage: node benches/fetch_bursts.mjs URL [--bursts N] [--concurrency N] " +
    "[--pause-min SECS] [--pause-max SECS] [--timeout SECS]");
  process.exit(2);
}
const url = args[0];
const opts = { bursts: 12, concurrency: 500, "pause-min": 0.9, "pause-max": 1.1, timeout: 30 };
for (let i = 1; i < args.length; i += 2) {
  const key = args[i].replace(/^--/, "");
  if (!(key in opts) || args[i + 1] === undefined || Number.isNaN(Number(args[i + 1]))) {
    console.error(`unknown option or missing number: ${args[i]}`);
    process.exit(2);
  }
  opts[key] = Number(args[i + 1]);
}
const host = new URL(url).hostname;
if (!["127.0.0.1", "localhost", "[::1]", "::1"].includes(host)) {
  console.error(`loopback targets only, not ${host}`);
  process.exit(2);
}

// The innermost cause is the useful message: fetch wraps socket errors as
// TypeError("fetch failed") with cause SocketError("other side closed") and the like.
function describe(err) {
  let e = err;
  while (e && e.cause) e = e.cause;
  const msg = (e && e.message) || String(err);
  const code = e && e.code ? ` (${e.code})` : "";
  return msg + code;
}

async function one() {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeout * 1000) });
    // Read the body: the connection goes back to the pool only once the body is consumed.
    await res.arrayBuffer();
    return res.ok ? null : `HTTP ${res.status}`;
  } catch (err) {
    return describe(err);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const errors = new Map();
let firstError = null;
let failures = 0;
const burstSeconds = [];
const started = performance.now();
for (let b = 0; b < opts.bursts; b++) {
  if (b > 0) {
    const pause = opts["pause-min"] + Math.random() * (opts["pause-max"] - opts["pause-min"]);
    await sleep(pause * 1000);
  }
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: opts.concurrency }, one));
  const secs = (performance.now() - t0) / 1000;
  burstSeconds.push(secs);
  let burstFailures = 0;
  for (const r of results) {
    if (r === null) continue;
    burstFailures++;
    failures++;
    firstError ??= r;
    errors.set(r, (errors.get(r) || 0) + 1);
  }
  console.error(`burst ${b + 1}/${opts.bursts}: ${secs.toFixed(3)} s, ${burstFailures} failed`);
}

const rest = burstSeconds.slice(1).sort((a, b) => a - b);
const median = rest.length === 0 ? null
  : rest.length % 2 ? rest[(rest.length - 1) / 2]
  : (rest[rest.length / 2 - 1] + rest[rest.length / 2]) / 2;
const round3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
console.log(JSON.stringify({
  url,
  bursts: opts.bursts,
  concurrency: opts.concurrency,
  requests: opts.bursts * opts.concurrency,
  failures,
  errors: Object.fromEntries(errors),
  first_error: firstError,
  burst_seconds: burstSeconds.map(round3),
  median_after_first: round3(median),
  max_after_first: round3(rest.length ? rest[rest.length - 1] : null),
  total_seconds: round3((performance.now() - started) / 1000),
}));
