// Runs the AT Protocol reference network (@atproto/dev-env: PLC directory, PDS, Bluesky
// AppView, Ozone) for socialcrm's real-server tests, as a library.
//
// Environment: DB_POSTGRES_URL (required), REDIS_HOST (required, "host:port").
// Each run uses its own PostgreSQL schemas ("appview_<schema>", "ozone_<schema>") and drops
// them on exit; schemas left by runs whose process is gone are dropped at start.
//
// Prints one JSON line on stdout once the network is up:
//   {"pds": url, "appview": url, "plc": url, "control": url}
// The control server (loopback) answers POST /process (flush the firehose into the AppView)
// and POST /close. Closing stdin (the test process died) also shuts everything down.
import http from 'node:http'
import { createRequire } from 'node:module'
import { TestNetwork } from '@atproto/dev-env'

const require = createRequire(import.meta.url)
const pg = require('pg')

const SCHEMA_PREFIX = 'scatp_'
const dbUrl = process.env.DB_POSTGRES_URL
if (!dbUrl || !process.env.REDIS_HOST) {
  console.error('network.mjs needs DB_POSTGRES_URL and REDIS_HOST')
  process.exit(2)
}
// The AppView accepts only [A-Za-z_] in schema names: digits are spelled as letters a-j.
const letters = (n) => String(n).replace(/[0-9]/g, (d) => 'abcdefghij'[Number(d)])
const digits = (s) => Number(s.replace(/[a-j]/g, (c) => String(c.charCodeAt(0) - 97)))
const schema = `${SCHEMA_PREFIX}${letters(process.pid)}_${letters(Date.now())}`

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

async function dropSchemas(onlyOwn) {
  const client = new pg.Client({ connectionString: dbUrl })
  await client.connect()
  try {
    const { rows } = await client.query(
      "select nspname from pg_namespace where nspname like 'appview\\_scatp\\_%' or nspname like 'ozone\\_scatp\\_%'",
    )
    for (const { nspname } of rows) {
      const own = nspname.endsWith(schema)
      const pid = digits(nspname.split('_')[2])
      if (own || (!onlyOwn && pid !== process.pid && !alive(pid))) {
        await client.query(`drop schema if exists "${nspname}" cascade`)
      }
    }
  } finally {
    await client.end()
  }
}

await dropSchemas(false)
const network = await TestNetwork.create({ dbPostgresSchema: schema })

let closing = null
function close() {
  closing ??= (async () => {
    try {
      await network.close()
    } finally {
      await dropSchemas(true).catch((err) => console.error('drop schemas:', err))
      control.close()
    }
  })()
  return closing
}

const control = http.createServer(async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/process') {
      await network.processAll()
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    } else if (req.method === 'POST' && req.url === '/close') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      await close()
      process.exit(0)
    } else {
      res.writeHead(404).end()
    }
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err))
  }
})
control.listen(0, '127.0.0.1', () => {
  const info = {
    pds: network.pds.url,
    appview: network.bsky.url,
    plc: network.plc.url,
    control: `http://127.0.0.1:${control.address().port}`,
    schema,
  }
  process.stdout.write(JSON.stringify(info) + '\n')
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => close().then(() => process.exit(0), () => process.exit(1)))
}
process.stdin.on('end', () => close().then(() => process.exit(0), () => process.exit(1)))
process.stdin.resume()
