// The console's REST calls: JSON in and out, our session cookie, problems (RFC 9457) as errors.

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && problem.detail) || `request failed (${status})`);
    this.status = status;
    this.code = problem && problem.code;
    this.field = (problem && problem.field) || null; // the body's field at fault, dotted (audience.days)
  }
}

export async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
