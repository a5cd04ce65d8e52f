// gongji pages: a little help, never a rule. Every page works without this script.
'use strict';

// A form is sent once: a second click while the first answer is on its way does nothing.
document.addEventListener('submit', (event) => {
  const form = event.target;
  if (form.dataset.sent === 'yes') {
    event.preventDefault();
    return;
  }
  form.dataset.sent = 'yes';
  for (const button of form.querySelectorAll('button[type=submit]')) {
    button.setAttribute('aria-busy', 'true');
  }
});

// Coming back with the browser's back button: the forms may be sent again.
window.addEventListener('pageshow', () => {
  for (const form of document.querySelectorAll('form[data-sent]')) {
    delete form.dataset.sent;
  }
});

// A running batch job: poll its progress (the API's job view) and reload when it has finished.
const job = document.getElementById('job');
if (job && job.dataset.state === 'running') {
  const bar = document.getElementById('job-progress');
  const done = document.getElementById('job-done');
  const poll = async () => {
    let view;
    try {
      const response = await fetch(job.dataset.progress, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      if (!response.ok) {
        return;
      }
      view = await response.json();
    } catch (_) {
      setTimeout(poll, 2000);
      return;
    }
    done.textContent = String(view.done);
    if (view.total) {
      bar.max = view.total;
      bar.value = view.done;
    }
    if (view.state !== 'running') {
      window.location.reload();
      return;
    }
    setTimeout(poll, 500);
  };
  setTimeout(poll, 500);
}
