// logging.output: file, with the seed's rotation keys: max_size (MB), max_age (days),
// max_backups and compress. Writes are synchronous and batched by the caller.
import { createReadStream, createWriteStream, closeSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs"
import { basename, dirname, extname, join } from "node:path"
import { pipeline } from "node:stream/promises"
import { createGzip } from "node:zlib"

export interface RotationSettings {
  readonly path: string
  readonly maxBytes: number
  readonly maxAgeDays: number
  readonly maxBackups: number
  readonly compress: boolean
}

export class RotatingFile {
  private fd: number
  private size: number
  private readonly dir: string
  private readonly stem: string
  private readonly ext: string

  constructor(private readonly settings: RotationSettings) {
    this.dir = dirname(settings.path)
    this.ext = extname(settings.path)
    this.stem = basename(settings.path, this.ext)
    mkdirSync(this.dir, { recursive: true })
    this.fd = openSync(settings.path, "a")
    this.size = statSync(settings.path).size
  }

  write(bytes: Uint8Array): void {
    if (this.size > 0 && this.size + bytes.length > this.settings.maxBytes) this.rotate()
    writeSync(this.fd, bytes)
    this.size += bytes.length
  }

  close(): void {
    closeSync(this.fd)
  }

  private rotate(): void {
    closeSync(this.fd)
    const stamp = new Date().toISOString().replace(/[:.]/g, "-")
    const rotated = join(this.dir, `${this.stem}-${stamp}${this.ext}`)
    renameSync(this.settings.path, rotated)
    this.fd = openSync(this.settings.path, "a")
    this.size = 0
    const done = this.settings.compress ? gzip(rotated) : Promise.resolve()
    done.then(() => this.prune(), () => this.prune())
  }

  private prune(): void {
    const prefix = `${this.stem}-`
    const backups = readdirSync(this.dir)
      .filter((f) => f.startsWith(prefix) && f !== basename(this.settings.path))
      .map((f) => ({ file: join(this.dir, f), mtime: statSync(join(this.dir, f)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime)
    const oldest = Date.now() - this.settings.maxAgeDays * 86_400_000
    backups.forEach((b, i) => {
      const tooMany = this.settings.maxBackups > 0 && i >= this.settings.maxBackups
      const tooOld = this.settings.maxAgeDays > 0 && b.mtime < oldest
      if (tooMany || tooOld) unlinkSync(b.file)
    })
  }
}

const gzip = async (file: string): Promise<void> => {
  await pipeline(createReadStream(file), createGzip(), createWriteStream(`${file}.gz`))
  unlinkSync(file)
}
