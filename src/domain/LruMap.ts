/** A Map bounded to `capacity` entries, least recently used dropped first. */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>()

  constructor(public capacity: number) {}

  get size(): number {
    return this.map.size
  }

  get(key: K): V | undefined {
    const value = this.map.get(key)
    if (value !== undefined) {
      // Map iterates in insertion order: re-inserting marks it most recently used
      this.map.delete(key)
      this.map.set(key, value)
    }
    return value
  }

  peek(key: K): V | undefined {
    return this.map.get(key)
  }

  has(key: K): boolean {
    return this.map.has(key)
  }

  set(key: K, value: V): void {
    this.map.delete(key)
    this.map.set(key, value)
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K)
  }

  delete(key: K): boolean {
    return this.map.delete(key)
  }

  clear(): void {
    this.map.clear()
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries()
  }
}
