// A small parser for the Prometheus text exposition format (version 0.0.4): enough to
// check metric families by name, type, label names and sample values.

export interface Sample {
  /** The sample's own name: a family name, or one with _bucket, _sum or _count. */
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: string | undefined
  readonly help: string | undefined
  readonly samples: Array<Sample>
}

const unescapeLabel = (s: string): string => s.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c))

const parseLabels = (text: string): Record<string, string> => {
  const labels: Record<string, string> = {}
  const pattern = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?\s*/y
  let at = 0
  while (at < text.length) {
    pattern.lastIndex = at
    const match = pattern.exec(text)
    if (match === null) throw new Error(`unparsable labels: {${text}}`)
    labels[match[1]!] = unescapeLabel(match[2]!)
    at = pattern.lastIndex
  }
  return labels
}

const parseValue = (text: string): number =>
  text === "+Inf" ? Infinity : text === "-Inf" ? -Infinity : text === "NaN" ? NaN : Number(text)

const suffixes = ["", "_bucket", "_sum", "_count", "_total", "_created"]

/** Families by name; a sample belongs to the family whose name it extends with a standard suffix. */
export const parsePrometheus = (text: string): Map<string, Family> => {
  const families = new Map<string, Family>()
  const family = (name: string): Family => {
    let f = families.get(name)
    if (f === undefined) families.set(name, (f = { name, type: undefined, help: undefined, samples: [] }))
    return f
  }
  const owner = (sampleName: string): Family => {
    for (const suffix of suffixes) {
      if (suffix !== "" && !sampleName.endsWith(suffix)) continue
      const f = families.get(sampleName.slice(0, sampleName.length - suffix.length))
      if (f !== undefined) return f
    }
    return family(sampleName)
  }
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    const meta = /^#\s+(HELP|TYPE)\s+([A-Za-z_:][A-Za-z0-9_:]*)(?:\s+(.*))?$/.exec(line)
    if (meta !== null) {
      const f = family(meta[2]!)
      const rest = meta[3] ?? ""
      families.set(f.name, meta[1] === "TYPE" ? { ...f, type: rest.trim() } : { ...f, help: rest })
      continue
    }
    if (line.startsWith("#")) continue
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/.exec(line)
    if (sample === null) throw new Error(`unparsable exposition line: ${line}`)
    owner(sample[1]!).samples.push({ name: sample[1]!, labels: parseLabels(sample[2] ?? ""), value: parseValue(sample[3]!) })
  }
  return families
}

/** The label names a family's samples carry, sorted; `le` and `quantile` of histograms and summaries left out. */
export const labelNames = (family: Family): Array<string> => {
  const names = new Set<string>()
  for (const s of family.samples) for (const name of Object.keys(s.labels)) if (name !== "le" && name !== "quantile") names.add(name)
  return [...names].sort()
}

/** The samples of `family` named exactly `sampleName` whose labels include `labels`. */
export const samplesOf = (
  family: Family | undefined,
  sampleName: string,
  labels: Readonly<Record<string, string>> = {}
): Array<Sample> =>
  (family?.samples ?? []).filter((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
