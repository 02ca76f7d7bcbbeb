import { useState } from 'preact/hooks';

/** A secret shown once (a new key, an invitation link): copy it now; it is gone when dismissed or the page changes. */
export function Secret(props: { label: string; value: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="card secret" id="new-secret" role="status">
      <p>
        <strong>{props.label}</strong> — shown once; copy it now.
      </p>
      <code id="new-secret-value">{props.value}</code>
      <div class="row-actions">
        <button
          type="button"
          id="copy-secret"
          onClick={() =>
            navigator.clipboard.writeText(props.value).then(
              () => setCopied(true),
              () => {},
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" onClick={props.onDone}>
          Done
        </button>
      </div>
    </div>
  );
}
