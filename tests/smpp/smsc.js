// A small SMSC for tests, built on the npm `smpp` package (an implementation independent of our codec).
// usage: node smsc.js <port> <system_id> <password> [<key.pem> <cert.pem>]  (with a key and cert: SMPP over TLS)
// Reports what it sees as JSON lines on stdout; takes commands as JSON lines on stdin:
//   {"cmd":"set", ...options}   throttle (answer the next N submit_sm with ESME_RTHROTTLED), queue_full (ditto
//                               ESME_RMSGQFUL), hold (withhold submit_sm_resp until "release"), receipt_first
//                               (the receipt goes before the submit_sm_resp), receipts (send receipts), stat
//                               (per destination: DELIVRD by default), refuse (per destination: a command_status)
//   {"cmd":"release"}           answer every withheld submit_sm
//   {"cmd":"deliver", "pdus":[{source_addr, destination_addr, esm_class, data_coding, hex}]}   deliver_sm to a receiver
const smpp = require('smpp');
const readline = require('readline');

const [port, systemId, password, keyFile, certFile] = process.argv.slice(2);
const fs = require('fs');
const tlsOptions = keyFile ? {key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile)} : {};
const opts = {throttle: 0, queue_full: 0, hold: false, receipt_first: false, receipts: true, stat: {}, refuse: {}};
const held = [];
const sessions = new Set();
let seq = 0;

function out(ev) { process.stdout.write(JSON.stringify(ev) + '\n'); }

function receiptFor(session, pdu, id) {
  if (session.mode === 'bind_transmitter') {  // receipts go to a receiver bind
    const rx = [...sessions].find((s) => s.mode === 'bind_receiver' || s.mode === 'bind_transceiver');
    if (!rx) { out({ev: 'no_receiver_for_receipt', id}); return; }
    session = rx;
  }
  const dest = pdu.destination_addr;
  const stat = opts.stat[dest] || 'DELIVRD';
  const err = stat === 'DELIVRD' ? '000' : '034';
  const now = new Date();
  const d = now.toISOString().replace(/[-:T]/g, '').slice(2, 12);
  const text = `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${d} done date:${d} stat:${stat} err:${err} text:`;
  const states = {DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8};
  session.deliver_sm({
    source_addr: pdu.destination_addr, source_addr_ton: 1, source_addr_npi: 1,
    destination_addr: pdu.source_addr, dest_addr_ton: 1, dest_addr_npi: 1,
    esm_class: 0x04, short_message: Buffer.from(text, 'latin1'),
    receipted_message_id: id, message_state: states[stat] || 7,
  }, (resp) => out({ev: 'receipt_resp', id, status: resp.command_status}));
  out({ev: 'receipt_sent', id, stat});
}

function answer(session, pdu) {
  const dest = pdu.destination_addr;
  if (opts.refuse[dest]) {
    session.send(pdu.response({command_status: opts.refuse[dest]}));
    out({ev: 'refused', destination_addr: dest});
    return;
  }
  const id = 'node-' + (++seq) + '-' + Date.now().toString(36);
  if (opts.receipts && opts.receipt_first) receiptFor(session, pdu, id);
  session.send(pdu.response({message_id: id}));
  out({ev: 'submit_sm_resp', id});
  if (opts.receipts && !opts.receipt_first) setTimeout(() => receiptFor(session, pdu, id), 20);
}

const server = smpp.createServer({debug: false, ...tlsOptions}, (session) => {
  let mode = null;
  sessions.add(session);
  session.on('close', () => { sessions.delete(session); out({ev: 'closed', mode}); });
  session.on('error', () => {});
  for (const kind of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
    session.on(kind, (pdu) => {
      if (pdu.system_id !== systemId || pdu.password !== password) {
        out({ev: 'bind_refused', kind, system_id: pdu.system_id});
        session.send(pdu.response({command_status: smpp.ESME_RINVPASWD}));
        return;
      }
      mode = kind;
      session.mode = kind;
      out({ev: 'bound', kind, system_id: pdu.system_id, system_type: pdu.system_type});
      session.send(pdu.response({system_id: 'node-smsc'}));
    });
  }
  session.on('enquire_link', (pdu) => { out({ev: 'enquire_link'}); session.send(pdu.response()); });
  session.on('unbind', (pdu) => { out({ev: 'unbind'}); session.send(pdu.response()); session.close(); });
  session.on('submit_sm', (pdu) => {
    const sm = pdu.short_message || {};
    const udh = (sm.udh || []).map((b) => Buffer.from(b).toString('hex'));
    out({ev: 'submit_sm', source_addr: pdu.source_addr, source_addr_ton: pdu.source_addr_ton,
         source_addr_npi: pdu.source_addr_npi, destination_addr: pdu.destination_addr,
         dest_addr_ton: pdu.dest_addr_ton, esm_class: pdu.esm_class, data_coding: pdu.data_coding,
         registered_delivery: pdu.registered_delivery, udh, sar: pdu.sar_msg_ref_num === undefined ? null :
           [pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum], message: typeof sm.message === 'string' ? sm.message : String(sm.message),
         held: held.length});
    if (opts.throttle > 0) { opts.throttle--; session.send(pdu.response({command_status: 0x58})); out({ev: 'throttled'}); return; }
    if (opts.queue_full > 0) { opts.queue_full--; session.send(pdu.response({command_status: 0x14})); out({ev: 'queue_full'}); return; }
    if (opts.hold) { held.push([session, pdu]); return; }
    answer(session, pdu);
  });
});

server.listen(Number(port), '127.0.0.1', () => out({ev: 'listening', port: Number(port)}));

readline.createInterface({input: process.stdin}).on('line', (line) => {
  let c;
  try { c = JSON.parse(line); } catch (e) { return; }
  if (c.cmd === 'set') { Object.assign(opts, c); delete opts.cmd; out({ev: 'set'}); }
  if (c.cmd === 'release') { while (held.length) { const [s, p] = held.shift(); answer(s, p); } out({ev: 'released'}); }
  if (c.cmd === 'deliver') {
    const receivers = [...sessions].filter((s) => s.mode === 'bind_transceiver' || s.mode === 'bind_receiver');
    if (!receivers.length) { out({ev: 'no_receiver'}); return; }
    for (const p of c.pdus) {
      receivers[0].deliver_sm({
        source_addr: p.source_addr, source_addr_ton: 1, source_addr_npi: 1,
        destination_addr: p.destination_addr, dest_addr_ton: 1, dest_addr_npi: 1,
        esm_class: p.esm_class || 0, data_coding: p.data_coding || 0, short_message: Buffer.from(p.hex, 'hex'),
      }, (resp) => out({ev: 'deliver_resp', status: resp.command_status}));
    }
    out({ev: 'delivered', n: c.pdus.length});
  }
});
