// Header fields as a flat list, name, value, name, value… (what node's writeHead and undici
// take as they are), each name present once: the response's fields (ResponseHeaders) and the
// request's as they go upstream (ProxyHeaders).

/** The index of field `name`'s name in `fields`, or -1. */
export const indexOfField = (fields: ReadonlyArray<unknown>, name: string): number => {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return i
  return -1
}

/** Sets field `name`: its value replaced where it is, or the field added at the end. */
export const setField = <V>(fields: Array<string | V>, name: string, value: V): void => {
  const i = indexOfField(fields, name)
  if (i === -1) fields.push(name, value)
  else fields[i + 1] = value
}
