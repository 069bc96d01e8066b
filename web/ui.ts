// Small DOM helpers shared by the coordinator and peer pages.

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

/** A clear, persistent message on the page (errors a user must act on). */
export function showAlert(message: string, kind: 'error' | 'info' = 'error', testId = 'alert'): HTMLElement {
  const box = el('div', { class: `alert ${kind === 'info' ? 'info' : ''}`, 'data-testid': testId }, message);
  document.getElementById('alerts')?.append(box);
  return box;
}

export function setRole(text: string): void {
  const r = document.getElementById('role');
  if (r) r.textContent = text;
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

/** PeerJS talks to our own signaling server at /peerjs on the page's origin; never a public one. */
export function peerOptions(): { host: string; port: number; path: string; secure: boolean; config: RTCConfiguration; debug: number } {
  const secure = location.protocol === 'https:';
  const port = Number(location.port || (secure ? 443 : 80));
  return { host: location.hostname, port, path: '/peerjs', secure, config: { iceServers: iceServers() }, debug: 0 };
}

/**
 * ICE servers: none by default (peers on one LAN connect directly). Users who span networks set
 * STUN/TURN in the page's ?ice= parameter (JSON array of RTCIceServer) or localStorage 'tabmesh.ice'.
 */
export function iceServers(): RTCIceServer[] {
  const raw = new URLSearchParams(location.search).get('ice') ?? localStorage.getItem('tabmesh.ice');
  if (!raw) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? (v as RTCIceServer[]) : [];
  } catch {
    showAlert('Ignoring the ICE server setting: it is not a JSON array of RTCIceServer objects.');
    return [];
  }
}
