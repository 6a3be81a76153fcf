// Proves the script was served with a JavaScript type and ran: it writes the time it ran.
const clock = document.getElementById('clock');
if (clock) {
  clock.textContent = `The script ran at ${new Date().toLocaleTimeString()}.`;
  clock.classList.add('ran');
}
