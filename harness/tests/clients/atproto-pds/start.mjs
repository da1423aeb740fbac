//! Starts a local PLC directory (npm @did-plc/server, in-memory database) and the official PDS (npm @atproto/pds) on loopback.
//
// Usage: node start.mjs [PLC_PORT [PDS_PORT]]   (a port of 0 or none: a free one)
//
// The PDS's other settings come from its usual PDS_* environment variables
// where this script does not fix them (PDS_REPO_BACKFILL_LIMIT_MS, say).
//
// Prints one line `{"ready":true,"plc":"http://127.0.0.1:P","pds":"http://127.0.0.1:Q",...}`
// on stdout once both answer (`outdatedCursor` there says whether `cursor=1`
// already meets #info OutdatedCursor), then runs until SIGTERM, SIGINT or stdin closes,
// when it stops both servers and removes its temporary data directory.
// Nothing reaches outside the machine: no crawlers, the PLC is the local one,
// no email, no app view. Run it inside `unshare --net` all the same.

import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Secp256k1Keypair } from '@atproto/crypto'
import { PDS, envToCfg, envToSecrets, readEnv } from '@atproto/pds'
import plcServer from '@did-plc/server'

const { PlcServer, Database } = plcServer

/** A port nothing listens on now, or `wanted` when one was given. */
async function port(wanted) {
  if (wanted) return wanted
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

const plcPort = await port(Number(process.argv[2] ?? 0))
const pdsPort = await port(Number(process.argv[3] ?? 0))
const plcUrl = `http://127.0.0.1:${plcPort}`
const pdsUrl = `http://127.0.0.1:${pdsPort}`
const dataDir = mkdtempSync(join(tmpdir(), 'streamcheck-pds-'))
// However the process ends (a crash included), the data goes with it.
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }))

let plc
let pds
let stopping = false
/** Stops whichever servers are up and exits with `code`. */
async function stop(code) {
  if (stopping) return
  stopping = true
  try {
    await pds?.destroy()
    await plc?.destroy()
  } catch (e) {
    process.stderr.write(`start.mjs: shutting down: ${e}\n`)
    code = code || 1
  }
  process.exit(code)
}
process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
process.stdin.on('end', () => stop(0))
process.stdin.on('error', () => stop(0))
process.stdin.resume()

/** Whether the first message for `cursor=1` is an #info OutdatedCursor (a rough look at its bytes). */
async function outdatedCursor() {
  const ws = new WebSocket(`${pdsUrl.replace('http', 'ws')}/xrpc/com.atproto.sync.subscribeRepos?cursor=1`)
  ws.binaryType = 'arraybuffer'
  const first = await new Promise((resolve) => {
    ws.onmessage = (event) => resolve(Buffer.from(event.data).toString('latin1'))
    ws.onerror = () => resolve('')
    setTimeout(() => resolve(''), 5_000)
  })
  ws.close()
  return first.includes('#info') && first.includes('OutdatedCursor')
}

/** Starts both servers, ages history out of a short replay window, and says ready. */
async function start() {
  plc = PlcServer.create({ db: Database.mock(), port: plcPort })
  await plc.start()

  const rotationKey = await Secp256k1Keypair.create({ exportable: true })
  const env = {
    ...readEnv(),
    port: pdsPort,
    hostname: 'localhost',
    devMode: true,
    inviteRequired: false,
    crawlers: [],
    didPlcUrl: plcUrl,
    serviceHandleDomains: ['.test'],
    dataDirectory: dataDir,
    blobstoreDiskLocation: join(dataDir, 'blobs'),
    jwtSecret: randomBytes(32).toString('hex'),
    adminPassword: randomBytes(16).toString('hex'),
    plcRotationKeyK256PrivateKeyHex: Buffer.from(await rotationKey.export()).toString('hex'),
  }
  pds = await PDS.create(envToCfg(env), envToSecrets(env))
  await pds.start()

  const health = await fetch(`${pdsUrl}/xrpc/_health`)
  if (!health.ok) throw new Error(`the PDS health check answered ${health.status}`)
  const { version } = await health.json()

  // With a short replay window (PDS_REPO_BACKFILL_LIMIT_MS, at most a minute),
  // make history that falls out of it before saying ready, so that a cursor
  // before the window meets #info OutdatedCursor.
  const window = env.repoBackfillLimitMs
  if (window !== undefined && window <= 60_000) {
    const created = await fetch(`${pdsUrl}/xrpc/com.atproto.server.createAccount`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ handle: 'aged.test', email: 'aged@example.com', password: randomBytes(12).toString('hex') }),
    })
    if (!created.ok) throw new Error(`creating the aged account answered ${created.status} ${await created.text()}`)
    await new Promise((resolve) => setTimeout(resolve, window + 1_000))
  }

  const line = { ready: true, plc: plcUrl, pds: pdsUrl, version, outdatedCursor: await outdatedCursor() }
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

try {
  await start()
} catch (e) {
  // Stopping while starting (stdin closed early) is no failure.
  if (!stopping) {
    process.stderr.write(`start.mjs: ${e?.stack ?? e}\n`)
    await stop(1)
  }
}
