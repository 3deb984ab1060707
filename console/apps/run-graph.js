// The run graph as an MCP App (ui://mcp-level3/run-graph), shown with dag_run and dag_status
// results: the console's own drawing (../graph.js). dag_run's result names the run; its nodes
// are read with dag_status through the host.
import { callServerTool, connectToHost, resultText } from './bridge.js';
import { runGraph } from '../graph.js';

const statusLine = document.getElementById('status');
const graphBox = document.getElementById('run-graph');

function show(text, kind = '') {
  statusLine.textContent = text;
  statusLine.className = kind;
}

async function showRun(result) {
  if (result.isError) {
    graphBox.replaceChildren();
    return show(resultText(result) || 'The tool call failed.', 'error');
  }
  let run = result.structuredContent;
  if (!run?.runId) return show('This result names no run.', 'error');
  if (!Array.isArray(run.nodes)) {
    try {
      run = await callServerTool('dag_status', { runId: run.runId });
    } catch (error) {
      return show(`Run ${run.runId} is ${run.status}; its nodes could not be read: ${error.message}`, 'notice');
    }
  }
  show(`Run ${run.runId} (${run.workflow}): ${run.status}, ${run.nodes.length} node${run.nodes.length === 1 ? '' : 's'}.`);
  graphBox.replaceChildren(runGraph(run.runId, run.nodes));
}

connectToHost({ name: 'mcp-level3 run graph', onToolResult: (result) => showRun(result) }).catch((error) => show(`The host did not answer: ${error.message}`, 'error'));
