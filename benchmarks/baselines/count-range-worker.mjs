// W3's raw limit: a bare worker thread that reads its own byte range of the
// corpus from disk and counts it with the job bundle's countWords, so nothing
// is split, copied or sent between threads but the counts.
import { openSync, readSync, closeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { countWords } = await import(workerData.bundleUrl);
parentPort.on('message', ({ file, start, end }) => {
  const bytes = Buffer.allocUnsafe(end - start);
  const fd = openSync(file, 'r');
  for (let at = 0; at < bytes.length; ) at += readSync(fd, bytes, at, bytes.length - at, start + at);
  closeSync(fd);
  parentPort.postMessage(countWords(bytes.toString('latin1')));
});
parentPort.postMessage('ready');
