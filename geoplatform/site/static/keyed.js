// A page's department key, kept in the tab's sessionStorage under the page's own name, and the
// requests that carry it: to this server only, never to another origin.

/** The key store and keyed requests of one page (``storageName`` in sessionStorage). */
export function keyedClient(storageName) {
  const key = () => sessionStorage.getItem(storageName) ?? "";

  /** A same-origin request carrying the key: its body and ETag; rejects with the server's
   * description on errors. */
  async function call(path, options = {}) {
    const headers = { "X-API-Key": key(), ...options.headers };
    const response = await fetch(path, { ...options, headers });
    const body = response.status === 204 ? null : await response.json();
    if (!response.ok) throw new Error(body?.description ?? `HTTP ${response.status}`);
    return { body, etag: response.headers.get("ETag") };
  }

  return {
    key,
    hasKey: () => sessionStorage.getItem(storageName) !== null,
    remember: (value) => sessionStorage.setItem(storageName, value.trim()),
    forget: () => sessionStorage.removeItem(storageName),
    call,
    api: async (path, options) => (await call(path, options)).body,
    /** MapLibre's ``transformRequest``: requests to this server (styles, TileJSON, tiles,
     * glyphs) carry the key too, so internal layers the key may read draw. */
    withKey: (url) =>
      new URL(url, location.href).origin === location.origin
        ? { url, headers: { "X-API-Key": key() } }
        : { url },
  };
}
